"""``phr departments add|list|disable`` against the real gateway app served over HTTP: what it
prints, where it finds the gateway and the credentials, and how it says what went wrong."""
from __future__ import annotations

import json

import pytest
import requests

from gateway.admin.clients import ensure_admin_client
from launcher.cli import main
from tests.security.gateway_server import GatewayServer

ADD = ["departments", "add", "physiotherapy", "--name", "en=Physiotherapy", "--name", "es=Fisioterapia",
       "--kind", "clinical", "--writes"]


@pytest.fixture
def gw(tmp_path):
    with GatewayServer(tmp_path / "gateway", f"sqlite:///{tmp_path}/gw.db") as server:
        yield server


@pytest.fixture
def admin(gw, monkeypatch, tmp_path) -> dict:
    """The administrators' credentials in the environment, nothing else to find."""
    creds = ensure_admin_client(gw.app.extensions["gateway"].engine)
    for name in ("PHR_ISSUER", "GATEWAY_URL", "GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHR_VAR_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("PHR_ADMIN_CLIENT_ID", creds["client_id"])
    monkeypatch.setenv("PHR_ADMIN_CLIENT_SECRET", creds["client_secret"])
    monkeypatch.setenv("GATEWAY_URL", gw.url)
    return creds


def lines(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and " " not in line.split("=")[0])


def test_add_registers_a_department_and_prints_its_client_and_secret_once(gw, admin, capsys):
    assert main(ADD) == 0
    out = capsys.readouterr().out
    assert out.startswith("registered physiotherapy (clinical; writes records), version 1\n")
    printed = lines(out)
    assert printed["client_id"] == "physiotherapy"
    assert printed["scope"] == "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd system/*.cud"
    assert "shown this once" in out
    token = requests.post(gw.url + "/oauth/token", data={"grant_type": "client_credentials"}, timeout=10,
                          auth=("physiotherapy", printed["client_secret"]))
    assert token.status_code == 200


def test_list_shows_every_department_with_its_kind_status_and_names(gw, admin, capsys):
    assert main(ADD) == 0
    assert main(["departments", "add", "trials", "--name", "en=Trials", "--name", "es=Ensayos",
                 "--kind", "research"]) == 0
    assert main(["departments", "disable", "trials", "--reason", "Finished."]) == 0
    capsys.readouterr()
    assert main(["departments", "list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:5] == ["ID", "KIND", "STATUS", "VERSION", "RIGHTS"]
    assert rows[1][:4] == ["physiotherapy", "clinical", "active", "1"]
    assert rows[2][:4] == ["trials", "research", "disabled", "2"] and rows[2][-3:] == ["Trials", "/", "Ensayos"]
    assert main(["departments", "list", "--json"]) == 0
    assert [d["department"] for d in json.loads(capsys.readouterr().out)] == ["physiotherapy", "trials"]


def test_disable_stops_the_department_and_again_says_it_already_was(gw, admin, capsys):
    assert main(ADD) == 0
    secret = lines(capsys.readouterr().out)["client_secret"]
    assert main(["departments", "disable", "physiotherapy", "--reason", "The clinic closed."]) == 0
    assert capsys.readouterr().out.startswith("disabled physiotherapy, version 2: its tokens were revoked")
    token = requests.post(gw.url + "/oauth/token", data={"grant_type": "client_credentials"}, timeout=10,
                          auth=("physiotherapy", secret))
    assert token.status_code == 401
    assert main(["departments", "disable", "physiotherapy", "--reason", "Again."]) == 0
    out = capsys.readouterr().out
    assert "was already disabled" in out and out.rstrip().endswith(": The clinic closed.")


@pytest.mark.parametrize("argv,says", [
    (ADD, "409 CONFLICT: The id physiotherapy is taken. Choose another id."),
    (["departments", "add", "trials", "--name", "en=Trials", "--name", "es=Ensayos", "--kind", "research",
      "--emergencies"], "may_claim_emergencies: Only a clinical department may have this right."),
    (["departments", "add", "trials", "--name", "en=Trials", "--kind", "research"], "names: Give the name in es too."),
    (["departments", "add", "trials", "--name", "Trials", "--kind", "research"], "write it as LANG=TEXT"),
    (["departments", "disable", "nowhere", "--reason", "x"], "404 NOT FOUND: There is no department nowhere."),
])
def test_a_refusal_is_one_clear_error_and_exit_status_1(gw, admin, capsys, argv, says):
    assert main(ADD) == 0
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("phr departments: error: ") and says in err, err


def test_wrong_credentials_are_said_plainly(gw, admin, capsys, monkeypatch):
    monkeypatch.setenv("PHR_ADMIN_CLIENT_SECRET", "wrong")
    assert main(["departments", "list"]) == 1
    err = capsys.readouterr().err
    assert "refused the admin client's credentials (phr-admin)" in err and "401" in err


def test_a_department_client_is_refused_by_the_admin_api(gw, admin, capsys, monkeypatch):
    assert main(ADD) == 0
    secret = lines(capsys.readouterr().out)["client_secret"]
    assert main(["departments", "list", "--client-id", "physiotherapy", f"--client-secret={secret}"]) == 1
    assert "403 FORBIDDEN" in capsys.readouterr().err


def test_no_credentials_anywhere_says_how_to_get_them(gw, admin, capsys, monkeypatch):
    monkeypatch.delenv("PHR_ADMIN_CLIENT_ID")
    monkeypatch.delenv("PHR_ADMIN_CLIENT_SECRET")
    assert main(["departments", "list"]) == 1
    assert "python -m gateway.admin admin-client" in capsys.readouterr().err


def test_an_unreachable_gateway_is_said_plainly(gw, admin, capsys):
    assert main(["departments", "list", "--gateway", "http://127.0.0.1:9"]) == 1
    assert "cannot reach the gateway at http://127.0.0.1:9" in capsys.readouterr().err


def test_the_demo_credentials_file_gives_the_gateway_and_the_admin_client(gw, admin, capsys, monkeypatch, tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    (var / "demo-credentials.json").write_text(json.dumps({"gateway": gw.url, "admin": admin}))
    for name in ("PHR_ADMIN_CLIENT_ID", "PHR_ADMIN_CLIENT_SECRET", "GATEWAY_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("PHR_VAR_DIR", str(var))
    assert main(["departments", "list"]) == 0
    assert "No departments are registered." in capsys.readouterr().out


def test_invite_prints_a_code_once_that_opens_an_admin_account_of_the_department(gw, admin, capsys):
    from gateway.accounts.staff_store import StaffStore
    assert main(ADD) == 0
    capsys.readouterr()
    assert main(["departments", "invite", "physiotherapy", "--role", "admin", "--name", "Pat Admin"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("invited Pat Admin to physiotherapy (admin).\n")
    code = out.split("Invite code (shown this once): ")[1].split()[0]
    gateway = gw.app.extensions["gateway"]
    store = StaffStore(gateway.engine, lambda conn, staff_id: None)
    enrolment = store.redeem_invite(code, "pat.admin", "a staff passphrase", gateway.stores.directory.active)
    assert enrolment.account.department == "physiotherapy" and enrolment.account.roles == ("admin",)


def test_invite_to_an_unknown_department_or_with_an_unknown_role_fails_clearly(gw, admin, capsys):
    assert main(["departments", "invite", "nowhere", "--role", "admin", "--name", "X"]) == 1
    assert "404" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["departments", "invite", "nowhere", "--role", "owner", "--name", "X"])
