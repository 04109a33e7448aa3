"""Worker processes: started one way, speaking one message format, none outliving the daemon.

Three kinds of work run in processes of their own, because each decodes
untrusted media or may crash, hang or grow: the engine (a model per worker,
many jobs each), compacting uploads (one recording) and speaker labels (one
request, one answer). All three are started by :class:`.spawn.Worker`, run
the program :mod:`.child`, end with the daemon even when it is killed
(:mod:`.lifetime`) and exchange frozen dataclasses as JSON lines
(:mod:`.messages`, :mod:`.channel`); what each says is in its own protocol
module beside its code (``backends/local/protocol.py``,
``audio/compact_protocol.py``, ``speakers/request.py``).

This package imports nothing on its own (a worker importing :mod:`.child`
should load no more than it uses), and nothing of dropscribe but the errors.
"""
