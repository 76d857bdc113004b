"""Operations tooling: the command line, backup and restore, demo and bulk data, the access-policy oracle.
The top floor below the composition root (server.py): it may import every layer."""
