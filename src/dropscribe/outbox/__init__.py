"""The outbox: the transcript document, its formats, durable writing, finishing a job."""
