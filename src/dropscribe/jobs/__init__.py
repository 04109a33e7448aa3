"""Jobs: the SQLite store, the state machine, dispatching to backends."""
