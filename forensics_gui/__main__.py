from forensics_gui.cli import main

raise SystemExit(main())
