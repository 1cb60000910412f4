import sqlite3

# An in-memory connection is allowed; ATTACH and VACUUM INTO write the file they name.
database = sqlite3.connect(":memory:")
database.execute("CREATE TABLE t (x)")
for statement in (
    "ATTACH DATABASE '/tmp/pf-preflight-must-not-exist.attached' AS other",
    "VACUUM INTO '/tmp/pf-preflight-must-not-exist.vacuumed'",
):
    try:
        database.execute(statement)
    except sqlite3.DatabaseError:
        pass


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_sqlite_writes",
        adapter_type="pf_sqlite_writes",
        module="pf_sqlite_writes",
        config_class="pf_sqlite_writes.config.Config",
    )
