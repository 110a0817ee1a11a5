"""A running stack keeps its health data and keys where only their owner can read them."""
import os
import stat


def test_every_file_and_folder_the_running_stack_keeps_is_owner_only(stack):
    looked_at = []
    for folder, dirs, files in os.walk(stack.var_dir):
        for name in dirs + files:
            path = os.path.join(folder, name)
            looked_at.append((os.path.relpath(path, stack.var_dir), stat.S_IMODE(os.stat(path).st_mode)))
    names = {name for name, _mode in looked_at}
    # The keys and the demo's credentials are there to be judged, and the databases when on SQLite.
    expected = {"gateway-signing-key.json", "gateway-session-key", "demo-credentials.json"}
    if stack.database_url("consent").startswith("sqlite"):
        expected |= {"consent.db", "records.db", "exchange.db", "gateway.db"}
    assert expected <= names, names
    readable_by_others = [(name, oct(mode)) for name, mode in looked_at if mode & 0o077]
    assert readable_by_others == []
    assert stat.S_IMODE(os.stat(stack.var_dir).st_mode) == 0o700
