"""What the benchmarks share: their command line's database option, run in a throwaway database."""
import os


def run_in_fresh_database(run, args):
    """Call run(database info, args) in a new SQLite file, or a new schema of --database-url (dropped after)."""
    from tests.conftest import fresh_database

    if args.database_url:
        os.environ["TEST_DATABASE_URL"] = args.database_url
    with fresh_database("postgresql" if args.database_url else "sqlite") as info:
        run(info, args)
