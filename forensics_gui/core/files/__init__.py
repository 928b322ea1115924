"""Reading and writing the user's files safely: atomic writes, locks, the output guard, checked npz and torch-file readers (with the allow-listing unpickler), hashing, app paths."""
