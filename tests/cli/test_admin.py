"""``pwsk admin invokers`` and ``pwsk admin user`` against a real server."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.cli.conftest import Run
from tests.servers import Server


def test_invokers_table_and_json(server: Server, home: Path) -> None:
    run = Run(None, ["--apihost", server.url, "-u", server.auth])
    table = run("admin", "invokers")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["invoker", "status"]
    assert any(line.split() == ["invoker0", "up"] for line in lines[1:])
    as_json = run("admin", "invokers", "--json")
    assert json.loads(as_json.stdout)["invoker0"] == "up"


def test_invokers_need_a_key(server: Server, home: Path) -> None:
    result = Run(None, ["--apihost", server.url, "-u", "nobody:wrong"])("admin", "invokers")
    assert result.exit_code != 0 and result.stderr.startswith("error: ")


def admin_run(server: Server) -> Run:
    return Run(None, ["--apihost", server.url, "-u", server.system_auth])


def test_user_create_list_revoke(server: Server, home: Path) -> None:
    run = admin_run(server)
    subject = f"cli{secrets.token_hex(4)}"
    created = run("admin", "user", "create", subject)
    assert created.exit_code == 0, created.stderr
    api_key = created.stdout.strip()
    uuid, _, secret = api_key.partition(":")
    assert len(secret) == 64
    as_user = Run(None, ["--apihost", server.url, "-u", api_key])
    assert as_user("namespace", "list").stdout.split()[-1] == subject
    table = run("admin", "user", "list", subject)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["uuid", "subject", "namespace", "status"]
    assert [line.split() for line in lines[1:]] == [[uuid, subject, subject, "active"]]
    everyone = run("admin", "user", "list", "--json")
    assert secret not in everyone.stdout and secret not in table.stdout
    assert uuid in {k["uuid"] for k in json.loads(everyone.stdout)}
    revoked = run("admin", "user", "revoke", uuid)
    assert (revoked.exit_code, revoked.stdout.strip()) == (0, f"Key {uuid} revoked")
    refused = as_user("namespace", "list")
    assert refused.exit_code != 0 and "authentication is invalid" in refused.stderr
    assert run("admin", "user", "list", subject).stdout.splitlines()[1:] == []
    shown = run("admin", "user", "list", subject, "--all").stdout.splitlines()[1:]
    assert [line.split()[-1] for line in shown] == ["revoked"]
    again = run("admin", "user", "revoke", uuid)
    assert again.exit_code != 0 and again.stderr.startswith("error: Unable to revoke key")


def test_user_namespace_block_unblock_delete(server: Server, home: Path) -> None:
    run = admin_run(server)
    subject = f"cli{secrets.token_hex(4)}"
    space = f"{subject}-shared"
    created = run("admin", "user", "create", subject, "-ns", space, "--json")
    assert created.exit_code == 0, created.stderr
    info = json.loads(created.stdout)
    assert (info["subject"], info["namespace"]) == (subject, space)
    as_user = Run(None, ["--apihost", server.url, "-u", info["key"]])
    assert as_user("namespace", "list").stdout.split()[-1] == space
    blocked = run("admin", "user", "block", subject)
    assert blocked.stdout.strip() == f'"{subject}" blocked successfully'
    assert "blocked" in run("admin", "user", "list", space).stdout
    assert as_user("namespace", "list").exit_code != 0
    assert run("admin", "user", "unblock", subject).exit_code == 0
    assert as_user("namespace", "list").exit_code == 0
    deleted = run("admin", "user", "delete", subject)
    assert deleted.exit_code == 0 and "1 keys revoked" in deleted.stdout
    assert as_user("namespace", "list").exit_code != 0
    missing = run("admin", "user", "delete", subject)
    assert missing.exit_code != 0 and "Unable to delete subject" in missing.stderr


def test_user_commands_need_an_administrator(server: Server, home: Path) -> None:
    guest = Run(None, ["--apihost", server.url, "-u", server.auth])
    result = guest("admin", "user", "list")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: Unable to list the keys: The supplied "
                                    "authentication is not authorized")
    bad = admin_run(server)("admin", "user", "create", "no/slash")
    assert bad.exit_code != 0 and "is not valid" in bad.stderr
    usage = admin_run(server)("admin", "user", "block")
    assert usage.exit_code != 0 and "Missing argument" in usage.stderr


def test_limits_set_get_delete(server: Server, home: Path) -> None:
    run = admin_run(server)
    space = f"cli{secrets.token_hex(4)}"
    none = run("admin", "limits", "get", space)
    assert none.exit_code == 0, none.stderr
    lines = none.stdout.splitlines()
    assert lines[0] == f'No limits found for "{space}", default system limits apply:'
    assert all(line.endswith(" (default)") for line in lines[1:]) and len(lines) == 5
    done = run("admin", "limits", "set", space, "--invocationsPerMinute", "2",
               "--concurrentInvocations", "5")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == f'Limits successfully set for "{space}"'
    assert run("admin", "limits", "set", space, "--storeActivations", "false").exit_code == 0
    shown = dict(line.split(" = ") for line in
                 run("admin", "limits", "get", space).stdout.splitlines())
    assert shown["invocationsPerMinute"] == "2" and shown["concurrentInvocations"] == "5"
    assert shown["storeActivations"] == "false"
    assert shown["firesPerMinute"].endswith(" (default)")
    as_json = json.loads(run("admin", "limits", "get", space, "--json").stdout)
    assert as_json["limits"] == {"invocationsPerMinute": 2, "concurrentInvocations": 5,
                                 "storeActivations": False}
    deleted = run("admin", "limits", "delete", space)
    assert deleted.exit_code == 0 and deleted.stdout.strip() == f'Limits deleted for "{space}"'
    assert json.loads(run("admin", "limits", "get", space, "--json").stdout)["limits"] == {}
    again = run("admin", "limits", "delete", space)
    assert again.exit_code != 0 and again.stderr.startswith("error: Unable to delete the limits")


def test_limits_refuse_bad_values_and_non_administrators(server: Server, home: Path) -> None:
    run = admin_run(server)
    negative = run("admin", "limits", "set", "somewhere", "--firesPerMinute", "-1")
    assert negative.exit_code == 2 and "-1" in negative.stderr
    nothing = run("admin", "limits", "set", "somewhere")
    assert nothing.exit_code == 2 and "at least one limit" in nothing.stderr
    huge = run("admin", "limits", "set", "somewhere", "--concurrentInvocations", "999999999")
    assert huge.exit_code != 0 and "must be an integer from 0 to" in huge.stderr
    guest = Run(None, ["--apihost", server.url, "-u", server.auth])
    refused = guest("admin", "limits", "set", "guest", "--invocationsPerMinute", "1000")
    assert refused.exit_code != 0 and "not authorized" in refused.stderr
