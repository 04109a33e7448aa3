"""Audio arithmetic shared by the engines: where to cut a recording, how to join the parts."""
