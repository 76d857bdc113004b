"""The ground floor: the words and handles every layer above may use (clock, identifiers, role names, the
workflow vocabulary, errors, the database handle). Imports nothing of the project but `config`."""
