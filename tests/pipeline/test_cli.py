"""The command forms users and outside checks rely on, run as real subprocesses."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path


from leadbridge.sandbox import Sandbox, SandboxConfig

from .conftest import cli_env, customer, messy_records, run_cli, write_csv


def test_no_token_refuses_with_exit_2_naming_the_variables(tmp_path: Path) -> None:
    proc = run_cli("sync", "csv", str(tmp_path / "leads.csv"), "--workspace",
                   str(tmp_path / "ws.duckdb"), env=cli_env())
    assert proc.returncode == 2, proc.stderr
    for word in ("MEGA_TOKEN", "MEGA_CUSTOMER_ID", "MEGA_BASE_URL", "--sandbox"):
        assert word in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws.duckdb").exists()  # refused before touching anything


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run_cli("sync", "--workspace", str(tmp_path / "ws.duckdb"), "--sandbox")
    assert proc.returncode == 2 and "name a connector" in proc.stderr
    proc = run_cli("report", "--workspace", str(tmp_path / "missing.duckdb"), "--format", "csv")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    job = tmp_path / "job.toml"
    job.write_text('[source]\nconnector = "csv"\n[target]\ntoken = "mega_abc"\n')
    proc = run_cli("sync", "--job", str(job), "--sandbox", "--workspace", str(tmp_path / "w"))
    assert proc.returncode == 2 and "secret" in proc.stderr and "mega_abc" not in proc.stderr


def test_sync_exit_codes_runs_and_report(tmp_path: Path) -> None:
    clean_records = messy_records(20, seed=3)[:-1]
    clean = write_csv(tmp_path / "clean.csv", clean_records)
    bad = write_csv(tmp_path / "bad.csv", messy_records(5, seed=4, bad_stage=1))
    with Sandbox(SandboxConfig.default(time_scale=0.002)) as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE="0.002")
        ws = str(tmp_path / "ws.duckdb")
        ok = run_cli("sync", "csv", str(clean), "--workspace", ws, "--json", env=env)
        assert ok.returncode == 0, ok.stderr
        summary = json.loads(ok.stdout)
        assert summary["record_status"]["created"] == len(clean_records) and summary["exit_code"] == 0
        ws2 = str(tmp_path / "ws2.duckdb")
        failed = run_cli("sync", "csv", str(bad), "--workspace", ws2, "--json", env=env)
        assert failed.returncode == 1, failed.stderr
        assert "Stage not found: appointment_set" in json.loads(failed.stdout)["errors"]
        leads = len(box.leads(customer(box)))
    runs = run_cli("runs", "--workspace", ws, "--json")
    assert [r["status"] for r in json.loads(runs.stdout)] == ["finished"]
    first_run = json.loads(runs.stdout)[0]["run_id"]
    rep = run_cli("report", "--run", first_run, "--format", "csv", "--workspace", ws)
    rows = list(csv.DictReader(io.StringIO(rep.stdout)))
    assert len(rows) == len(clean_records) and {r["status"] for r in rows} == {"created"}
    assert list(rows[0]) == ["source", "source_id", "row_ref", "status", "lead_id",
                             "matched_by", "predicted_status", "errors"]
    out = tmp_path / "out.json"
    rep = run_cli("report", "--format", "json", "--output", str(out), "--workspace", ws2)
    items = json.loads(out.read_text())
    assert {i["status"] for i in items} >= {"failed", "rejected"}
    assert sum(1 for i in items if i["lead_id"]) + 2 == len(items)
    assert leads > 0


def test_stopped_run_exits_3_and_resumes(tmp_path: Path) -> None:
    records = messy_records(10, seed=6)[:-1]
    data = write_csv(tmp_path / "l.csv", records)
    ws = str(tmp_path / "ws.duckdb")
    broken = SandboxConfig.default(time_scale=0.001, fail_before=1.0)
    with Sandbox(broken) as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE="0.001")
        proc = run_cli("sync", "csv", str(data), "--workspace", ws, env=env)
        assert proc.returncode == 3, proc.stderr
        assert "resume" in proc.stderr and "Traceback" not in proc.stderr
        token, cust = box.config.tokens[0].token, customer(box)
    from leadbridge.sandbox import TokenGrant

    with Sandbox(SandboxConfig(tokens=(TokenGrant(token, cust),), time_scale=0.001)) as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE="0.001")
        proc = run_cli("sync", "csv", str(data), "--workspace", ws, "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["record_status"]["created"] == len(records)


def test_plan_is_offline_and_prints_the_counts(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "l.csv", messy_records(30, seed=7))
    proc = run_cli("plan", "csv", str(data), "--workspace", str(tmp_path / "ws.duckdb"),
                   env=cli_env(MEGA_BASE_URL="http://127.0.0.1:9"))
    assert proc.returncode == 0, proc.stderr
    for word in ("records", "clusters", "golden rows", "conflicts", "placeholder keys",
                 "chunks", "requests", "predicted created", "predicted updated",
                 "predicted skipped"):
        assert word in proc.stdout, word


def test_sandbox_flag_persists_state_so_a_rerun_sends_nothing(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "l.csv", messy_records(15, seed=8))
    ws = str(tmp_path / "ws.duckdb")
    env = cli_env(LEADBRIDGE_TIME_SCALE="0.01")
    first = run_cli("sync", "csv", str(data), "--sandbox", "--workspace", ws, "--json", env=env)
    assert first.returncode == 1, first.stderr  # the no-contact record is rejected
    assert json.loads(first.stdout)["rows_sent"] > 0
    second = run_cli("sync", "csv", str(data), "--sandbox", "--workspace", ws, env=env)
    assert "Nothing to send" in second.stdout
    assert (tmp_path / "ws.sandbox.duckdb").exists()


def test_demo_runs_without_a_token(tmp_path: Path) -> None:
    proc = run_cli("demo", "--json", env=cli_env(), cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["records"] > 300 and summary["record_status"]["pending"] == 0
    assert summary["row_status"]["failed"] >= 1 and "Stage not found" in " ".join(summary["errors"])
    assert summary["record_status"]["created"] > 100
    assert (tmp_path / ".leadbridge" / "demo" / "workspace.duckdb").exists()


def test_encoding_flag_reaches_the_file_connector_in_sync_and_plan(tmp_path: Path) -> None:
    src = tmp_path / "latin.csv"
    src.write_bytes("id,Full Name,E-mail\n1,Zo\u00eb M\u00fcller,zoe@example.com\n"
                    "2,Ren\u00e9e,renee@example.com\n".encode("cp1252"))
    ws = str(tmp_path / "ws.duckdb")
    wrong = run_cli("plan", "csv", str(src), "--encoding", "utf-8", "--workspace", ws, "--json")
    assert wrong.returncode == 0, wrong.stderr
    assert json.loads(wrong.stdout)["rejected"] == 2  # undecodable lines, each located
    proc = run_cli("sync", "csv", str(src), "--encoding", "cp1252", "--sandbox",
                   "--workspace", ws, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["record_status"]["created"] == 2
    bad = run_cli("sync", "csv", str(src), "--encoding", "klingon", "--sandbox",
                  "--workspace", ws)
    assert bad.returncode == 2 and "klingon" in bad.stderr and "Traceback" not in bad.stderr


def test_bracketed_data_is_printed_as_text_and_reports_need_a_writable_file(
        tmp_path: Path) -> None:
    """Column names, values and labels are data, not rich markup: a `[/b]` header crashed the
    summary of a finished run (MarkupError traceback, exit 1), and `[target]` vanished from the
    plan's hint. A report --output that is a folder, or under a file, was an OSError
    traceback; one naming the source file overwrote it."""
    src = tmp_path / "l.csv"
    src.write_text("id,name,email,[/b],[red]x\n1,Ann,ann@example.com,v,w\n", encoding="utf-8")
    ws = str(tmp_path / "ws.duckdb")
    proc = run_cli("sync", "csv", str(src), "--sandbox", "--workspace", ws)
    assert proc.returncode == 0, proc.stderr
    assert "Unknown custom fields (ignored by MEGA): [/b], [red]x" in proc.stdout
    plan = run_cli("plan", "csv", str(src), "--workspace", str(tmp_path / "plan.duckdb"))
    assert plan.returncode == 0 and "list them under [target] stages/owners" in plan.stdout
    for output, words in ((tmp_path, "is a folder"), (src / "out.csv", "cannot be created")):
        proc = run_cli("report", "--workspace", ws, "--output", str(output))
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    # `--output` naming the source itself overwrote it; an earlier report is replaced freely
    before = src.read_bytes()
    proc = run_cli("report", "--workspace", ws, "--output", str(src))
    assert proc.returncode == 2 and "is not a leadbridge report" in proc.stderr, proc.stderr
    assert src.read_bytes() == before
    for fmt in ("csv", "json", "json", "csv"):
        proc = run_cli("report", "--workspace", ws, "--format", fmt, "--output",
                       str(tmp_path / "outcomes.txt"))
        assert proc.returncode == 0, proc.stderr
    assert run_cli("report", "--workspace", ws, "--output", str(src), "--force").returncode == 0
    assert src.read_text().startswith("source,source_id,")


def test_a_run_whose_records_were_all_rejected_does_not_claim_they_were_sent(
        tmp_path: Path) -> None:
    src = tmp_path / "l.csv"
    src.write_text("id,name,email\n1,,\n2,,not-an-email\n", encoding="utf-8")
    proc = run_cli("sync", "csv", str(src), "--sandbox", "--workspace", str(tmp_path / "w.duckdb"))
    assert proc.returncode == 1, proc.stderr  # every record rejected, each with its reason
    assert "no source record left a row to send" in proc.stdout
    assert "already reached MEGA" not in proc.stdout


def test_plan_refuses_the_policies_sync_refuses(tmp_path: Path) -> None:
    """plan used to raise ValueError (a traceback) on a bad --on-duplicate and accept any
    --mode, predicting a run sync would refuse to start."""
    data = write_csv(tmp_path / "l.csv", messy_records(3, seed=2))
    ws = str(tmp_path / "ws.duckdb")
    for args, words in ((("--on-duplicate", "merge"), "--on-duplicate must be update or skip"),
                        (("--mode", "fast"), "--mode must be bulk or live"),
                        (("--mode", "live", "--on-duplicate", "skip"), "use --mode bulk")):
        proc = run_cli("plan", "csv", str(data), "--workspace", ws, *args)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_a_workspace_that_is_not_a_duckdb_file_is_refused(tmp_path: Path) -> None:
    """DuckDB opens a CSV as a read-only view and keeps new tables in memory: `--workspace
    leads.csv` ran a whole sync and recorded nothing (no ledger, no report, no cursor)."""
    data = write_csv(tmp_path / "leads.csv", messy_records(3, seed=2))
    before = data.read_bytes()
    proc = run_cli("sync", "csv", str(data), "--sandbox", "--workspace", str(data))
    assert proc.returncode == 2 and "is not a DuckDB database" in proc.stderr, proc.stderr
    assert data.read_bytes() == before and not (tmp_path / "leads.sandbox.duckdb").exists()
    (tmp_path / "junk.duckdb").write_text("not a database")
    for ws, words in ((data, "is not a DuckDB database"), (tmp_path, "is a folder"),
                      (tmp_path / "junk.duckdb", "is not a DuckDB database")):
        proc = run_cli("runs", "--workspace", str(ws))
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    if Path("/sys/kernel").is_dir():  # Linux: a place even root cannot create a file in
        proc = run_cli("plan", "csv", str(data), "--workspace", "/sys/kernel/lb.duckdb")
        assert proc.returncode == 2, proc.stderr
        assert "Permission denied; choose another path" in proc.stderr  # not "check the path"


def test_policy_flags_win_over_the_job_file(tmp_path: Path) -> None:
    """`sync --job job.toml --on-duplicate skip` ran with the job's (default) update, silently
    overwriting the leads the flag said to skip; `plan --job --mode live` planned bulk."""
    data = write_csv(tmp_path / "l.csv", messy_records(3, seed=2))
    job = tmp_path / "job.toml"
    job.write_text(f'[source]\nconnector = "csv"\n[source.options]\npath = "{data.name}"\n'
                   '[policies]\non_duplicate = "update"\n')
    proc = run_cli("sync", "--job", str(job), "--sandbox", "--on-duplicate", "skip", "--json",
                   "--workspace", str(tmp_path / "ws.duckdb"))
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["on_duplicate"] == "skip"
    proc = run_cli("plan", "--job", str(job), "--mode", "live", "--json",
                   "--workspace", str(tmp_path / "plan.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["endpoint"] == "/api/agents/crm/leads"  # single creates


def test_pull_against_an_unreachable_mega_prints_one_error_not_retry_events(
        tmp_path: Path) -> None:
    """`pull` and `map --probe` printed a bare `stamina.retry_scheduled` line per retry."""
    env = cli_env(MEGA_TOKEN="mega_" + "0" * 64, LEADBRIDGE_TIME_SCALE="0.01",
                  MEGA_CUSTOMER_ID="123e4567-e89b-12d3-a456-426614174000",
                  MEGA_BASE_URL="http://127.0.0.1:9")
    proc = run_cli("pull", "--workspace", str(tmp_path / "ws.duckdb"), env=env)
    assert proc.returncode != 0 and "no answer" in proc.stderr, proc.stderr
    assert "stamina" not in proc.stderr and "mega_000" not in proc.stderr


def test_demo_resets_only_its_own_workspace(tmp_path: Path) -> None:
    """The demo deletes its workspace to start afresh: `demo --workspace leads.csv` deleted
    the CSV (replaced by a DuckDB file), and a real sync workspace lost its ledger."""
    data = write_csv(tmp_path / "leads.csv", messy_records(3, seed=2))
    before = data.read_bytes()
    proc = run_cli("demo", "--workspace", str(data), "--json")
    assert proc.returncode == 2 and "is not a DuckDB database" in proc.stderr, proc.stderr
    assert data.read_bytes() == before
    real = tmp_path / "real.duckdb"
    synced = run_cli("sync", "csv", str(data), "--sandbox", "--workspace", str(real))
    assert synced.returncode in (0, 1), synced.stderr
    proc = run_cli("demo", "--workspace", str(real), "--json")
    assert proc.returncode == 2 and "not the demo's" in proc.stderr, proc.stderr
    assert run_cli("runs", "--workspace", str(real), "--json").stdout.count("run_id") == 1
    demo = tmp_path / "demo.duckdb"
    for _ in range(2):  # an earlier demo's workspace is reset
        proc = run_cli("demo", "--workspace", str(demo), "--json")
        assert proc.returncode == 0, proc.stderr
