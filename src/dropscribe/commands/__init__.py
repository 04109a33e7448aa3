"""The command line: run, status, jobs, retry, transcribe, check."""
