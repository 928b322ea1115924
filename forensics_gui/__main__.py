from forensics_gui.cli import main

if __name__ == "__main__":  # a spawned child process imports this module: it must not run the CLI
    raise SystemExit(main())
