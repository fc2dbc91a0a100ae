"""The `wq` command line: click commands, thin over the client, with pure renderers."""
