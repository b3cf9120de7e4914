"""The ``livebar`` command line, run as a subprocess against the simulator."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from livebar._cli import main

PY = sys.executable


def livebar(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m livebar ARGS`` (stdin from /dev/null unless given) and capture its output."""
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(
        [PY, "-m", "livebar", *args], env=env, capture_output=True, timeout=30, **kwargs
    )


def python(code: str) -> list[str]:
    """A command line running ``code`` in a fresh interpreter."""
    return [PY, "-c", textwrap.dedent(code)]


def shown(sim: Any, index: int = -1) -> dict[str, Any]:
    """What the phone shows for an activity (the last one by default)."""
    state: dict[str, Any] = sim.activities()[index]["displayed"]
    return state


def test_run_success_passes_output_through(sim, env) -> None:
    """run: the command's output comes through unchanged and the activity ends done."""
    command = python("import sys; print('out'); print('err', file=sys.stderr)")
    done = livebar("run", "--title", "Hello", "--", *command, env=env)
    assert (0, b"out\n", b"err\n") == (done.returncode, done.stdout, done.stderr)
    assert ("Hello", "ended") == (sim.activities()[0]["title"], sim.activities()[0]["state"])
    assert shown(sim)["subtitle"].startswith("Done in ")


def test_run_failure_keeps_the_exit_code(sim, env) -> None:
    """run: a failing command's exit code comes back and the activity ends failed."""
    done = livebar("run", "--", *python("raise SystemExit(7)"), env=env)
    assert 7 == done.returncode
    assert "Failed: exit code 7" == shown(sim)["subtitle"]
    assert "red" == shown(sim)["color"]


def test_run_killed_by_a_signal_reads_plainly(sim, env) -> None:
    """run: a command killed by a signal reads "Failed: killed by SIGKILL", no class name."""
    done = livebar("run", "--", *python("import os; os.kill(os.getpid(), 9)"), env=env)
    assert 137 == done.returncode
    assert "Failed: killed by SIGKILL" == shown(sim)["subtitle"]


def test_run_progress_regex_with_two_groups(sim, env) -> None:
    """run: ``(\\d+)/(\\d+)`` lines become value/upper_limit; bytes pass through untouched."""
    noise = bytes(range(256)) + b"\r\xff\xfe not utf-8\n"
    command = python(
        f"""
        import sys
        out = sys.stdout.buffer
        for i in range(1, 4):
            out.write(b"row %d/10\\n" % i)
        out.write({noise!r})
        out.flush()
        sys.exit(1)
        """
    )
    done = livebar("run", "--progress-regex", r"(\d+)/(\d+)", "--", *command, env=env)
    expected = b"row 1/10\nrow 2/10\nrow 3/10\n" + noise
    assert (1, expected) == (done.returncode, done.stdout)
    state = shown(sim)
    assert (3, 10) == (state["value"], state["upper_limit"])


def test_run_progress_regex_with_one_group(sim, env) -> None:
    """run: a one-group regex reads a percentage, from stderr as well as stdout."""
    command = python(
        """
        import sys
        print("45% done", file=sys.stderr)
        sys.exit(2)
        """
    )
    done = livebar("run", "--progress-regex", r"(\d+)% done", "--", *command, env=env)
    assert (2, b"45% done\n") == (done.returncode, done.stderr)
    assert 45 == shown(sim)["percentage"]


def test_run_step_regex_names_the_stage(sim, env) -> None:
    """run: --steps with --step-regex shows the stage the command reached when it failed."""
    command = python(
        """
        print("== build")
        print("== test")
        raise SystemExit(1)
        """
    )
    done = livebar(
        "run", "--steps", "build,test,deploy", "--step-regex", r"^== (\w+)", "--", *command, env=env
    )
    assert 1 == done.returncode
    state = shown(sim)
    assert (3, 1) == (state["number_of_steps"], state["current_step"])
    assert state["subtitle"].startswith("Failed at test")


def test_run_steps_done(sim, env) -> None:
    """run: a successful command fills every step."""
    done = livebar("run", "--steps", "a,b", "--", *python("pass"), env=env)
    assert 0 == done.returncode
    assert (2, 2) == (shown(sim)["number_of_steps"], shown(sim)["current_step"])


def test_run_through_the_shell(sim, env) -> None:
    """run --shell hands the command line to the shell."""
    done = livebar("run", "--shell", "--", "echo one && echo two", env=env)
    assert (0, b"one\ntwo\n") == (done.returncode, done.stdout)


def test_run_command_not_found(sim, env) -> None:
    """run: an unknown command exits 127 like a shell, and starts no activity."""
    done = livebar("run", "--", "no-such-command-livebar-test", env=env)
    assert 127 == done.returncode
    assert b"command not found" in done.stderr
    assert [] == sim.activities()


def test_run_sigint_is_forwarded_and_cancels(sim, env) -> None:
    """run: SIGINT reaches the command and the activity ends cancelled."""
    command = python(
        """
        import sys, time
        try:
            print("ready", flush=True)
            time.sleep(20)
        except KeyboardInterrupt:
            print("child interrupted", flush=True)
            sys.exit(130)
        """
    )
    proc = subprocess.Popen(
        [PY, "-m", "livebar", "run", "--title", "Long", "--", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert b"ready\n" == proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert (130, b"child interrupted\n") == (proc.returncode, out)
    assert shown(sim)["subtitle"].startswith("Cancelled")


def test_run_without_a_key_warns_and_still_runs(sim, env) -> None:
    """run: with no API key the command still runs and keeps its exit code; one warning."""
    del env["ACTIVITYSMITH_API_KEY"]
    done = livebar("run", "--", *python("print('hi'); raise SystemExit(3)"), env=env)
    assert (3, b"hi\n") == (done.returncode, done.stdout)
    assert 1 == done.stderr.count(b"ACTIVITYSMITH_API_KEY is not set")
    assert [] == sim.requests()


def test_livebar_disable_turns_mirroring_off(sim, env) -> None:
    """LIVEBAR_DISABLE=1 runs the command without a Live Activity and without a warning."""
    env["LIVEBAR_DISABLE"] = "1"
    done = livebar("run", "--", *python("pass"), env=env)
    assert (0, b"") == (done.returncode, done.stderr)
    assert [] == sim.requests()


def test_pipe_mode_copies_a_million_lines(sim, env) -> None:
    """Pipe mode passes a million lines through byte for byte and counts them all."""
    data = b"".join(b"%d,row\n" % i for i in range(1_000_000))
    done = livebar("--total", "1000000", "--title", "Import", input=data, env=env)
    assert 0 == done.returncode
    assert data == done.stdout
    assert ("Import", 100.0) == (shown(sim)["title"], shown(sim)["percentage"])
    assert shown(sim)["subtitle"].startswith("Done in ")
    assert len(sim.requests()) <= 3


def test_pipe_reader_going_away_stops_at_the_real_count(sim, env) -> None:
    """When the reader closes the pipe (``| head``), livebar exits 141 and ends stopped midway."""
    with subprocess.Popen(
        [PY, "-m", "livebar", "--total", "1000000", "--title", "Head"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        assert stdin is not None
        assert stdout is not None
        assert stderr is not None

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError):
                try:
                    for _ in range(100):
                        stdin.write(b"line\n" * 1000)
                finally:
                    stdin.close()

        writer = threading.Thread(target=feed)
        writer.start()
        assert b"line\n" == stdout.readline()
        stdout.close()
        assert 141 == proc.wait(timeout=20)
        writer.join()
        assert b"" == stderr.read()
    state = shown(sim)
    assert state["subtitle"].startswith("Stopped at")
    assert 0 < state["percentage"] <= 20


def test_pipe_counts_bytes(sim, env) -> None:
    """pipe --bytes copies binary data untouched; the end of input ends the activity done."""
    data = os.urandom(300_000)
    done = livebar("pipe", "--bytes", "--total", "1000000", input=data, env=env)
    assert (0, data) == (done.returncode, done.stdout)
    assert shown(sim)["subtitle"].startswith("Done in ")


def test_pipe_without_a_key(sim, env) -> None:
    """Pipe mode with no API key still copies everything, after one warning."""
    del env["ACTIVITYSMITH_API_KEY"]
    done = livebar("--title", "x", input=b"a\nb\n", env=env)
    assert (0, b"a\nb\n") == (done.returncode, done.stdout)
    assert 1 == done.stderr.count(b"is not set")


def test_push(sim, env) -> None:
    """push sends one notification and prints a one-line result."""
    done = livebar(
        "push", "--title", "Backup done", "--message", "42 GB", "--channel", "ops", env=env
    )
    assert 0 == done.returncode, done.stderr
    assert done.stdout.startswith(b"livebar: push sent")
    assert 1 == done.stdout.count(b"\n")
    request = sim.requests()[-1]
    assert "/push-notification" == request["path"]
    expected = {"title": "Backup done", "message": "42 GB", "target": {"channels": ["ops"]}}
    assert expected == request["body"]


def test_push_without_a_key_exits_2(sim, env) -> None:
    """push with no API key exits 2 with a clear message and sends nothing."""
    del env["ACTIVITYSMITH_API_KEY"]
    done = livebar("push", "--title", "x", env=env)
    assert 2 == done.returncode
    assert b"no API key: set ACTIVITYSMITH_API_KEY" in done.stderr
    assert [] == sim.requests()


def test_push_rejected_by_the_server_exits_1(sim, env) -> None:
    """push with a key the server refuses exits 1 and never prints the key."""
    env["ACTIVITYSMITH_API_KEY"] = "ask_wrong_key_123"
    done = livebar("push", "--title", "x", env=env)
    assert 1 == done.returncode
    assert b"push: failed" in done.stderr
    assert b"ask_wrong_key_123" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["push", "--title", "x", "--media", "http://insecure.example/a.png"], "media"),
        (["run", "--progress-regex", "(", "--", "true"], "bad regular expression"),
        (["run", "--progress-regex", "no groups", "--", "true"], "needs 1 or 2 group(s)"),
        (["run", "--step-regex", "(a)(b)", "--", "true"], "needs 0 or 1 group(s)"),
        (["run", "--progress-regex", r"(\d*)", "--", "true"], "matches an empty line"),
        (["run", "--step-regex", "^(a)?", "--", "true"], "matches an empty line"),
        (["push", "--title", "x", "--action", "Open"], "--action: give TITLE=URL"),
        (["push", "--title", "x", "--webhook", "=https://e.com"], "--webhook: give TITLE=URL"),
        (["push", "--title", "x", "--action", "Open=http://e.com"], "actions[0].url"),
        (["push", "--title", "x", "--badge", "many"], "--badge: invalid int value"),
        (["run", "--steps", ",", "--", "true"], "--steps"),
        (["run"], "no command given"),
        (["pipe", "--total", "-5"], "must be > 0"),
        (["run", "--color", "red", "--", "true"], "unrecognized arguments"),
        (["push"], "the following arguments are required: --title"),
    ],
)
def test_bad_options_exit_2(env, argv, message) -> None:
    """Bad options, regexes and URLs exit 2 with a message naming the problem."""
    done = livebar(*argv, env=env)
    assert 2 == done.returncode
    assert message in done.stderr.decode()


BAD_SETTINGS = [
    ("LIVEBAR_TIMEOUT", "abc"),
    ("LIVEBAR_DISABLE", "maybe"),
    ("ACTIVITYSMITH_BASE_URL", "http://example.com/api"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_run_with_a_bad_setting_still_runs_the_command(sim, env, name, value) -> None:
    """run: a bad livebar setting is one error line; the command runs and keeps its exit code."""
    env[name] = value
    done = livebar("run", "--", *python("print('hi'); raise SystemExit(3)"), env=env)
    assert (3, b"hi\n") == (done.returncode, done.stdout)
    lines = done.stderr.decode().splitlines()
    assert 1 == len(lines), lines
    assert lines[0].startswith("livebar: ")
    assert f"livebar: {name}: " in lines[0]
    assert lines[0].endswith("running without the Live Activity.")
    assert [] == sim.requests()


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_pipe_with_a_bad_setting_loses_no_data(sim, env, name, value) -> None:
    """Pipe mode: a bad livebar setting is one error line; every byte still comes through."""
    env[name] = value
    data = b"".join(b"%d\n" % i for i in range(1, 6))
    done = livebar("--title", "x", input=data, env=env)
    assert (0, data) == (done.returncode, done.stdout)
    assert 1 == len(done.stderr.splitlines()), done.stderr
    assert [] == sim.requests()


def test_push_with_a_bad_setting_exits_2(sim, env) -> None:
    """push (nothing to run but the push) refuses a bad setting with exit 2, naming it."""
    env["LIVEBAR_TIMEOUT"] = "abc"
    done = livebar("push", "--title", "x", env=env)
    assert 2 == done.returncode
    assert b"LIVEBAR_TIMEOUT" in done.stderr
    assert [] == sim.requests()


@pytest.mark.parametrize(
    ("regex", "lines"),
    [
        (r"(\d+)%|x", ["x", "40%", "x"]),
        (r"(\d+)/(\d+)|(?:todo)", ["todo", "2/4", "todo"]),
        (r"(\w+)%", ["nan%", "inf%", "40%", "abc%"]),
    ],
)
def test_run_lines_without_usable_numbers_are_not_progress(sim, env, regex, lines) -> None:
    """run: a match whose groups are empty or not finite numbers moves nothing; output is whole."""
    filler = 20_000  # more than a pipe holds: a relay that died would leave the command stuck
    command = python(
        f"""
        for line in {lines!r}:
            print(line)
        for i in range({filler}):
            print("row", i)
        """
    )
    done = livebar("run", "--progress-regex", regex, "--", *command, env=env)
    out = done.stdout.decode().splitlines()
    assert (0, b"") == (done.returncode, done.stderr)
    assert [*lines, *(f"row {i}" for i in range(filler))] == out
    assert shown(sim)["subtitle"].startswith("Done in ")
    assert not [r for r in sim.requests() if r["status"] != 200]


def test_run_step_regex_with_an_empty_group_goes_to_the_next_stage(sim, env) -> None:
    """run: a step match whose group is empty starts the next stage instead of crashing."""
    command = python(
        """
        for line in ["b", "a", "b"]:
            print(line)
        raise SystemExit(1)
        """
    )
    done = livebar(
        "run", "--steps", "one,a,three", "--step-regex", "^(a)$|^b$", "--", *command, env=env
    )
    assert (1, b"b\na\nb\n", b"") == (done.returncode, done.stdout, done.stderr)
    assert shown(sim)["subtitle"].startswith("Failed at three")


def test_run_title_defaults_to_the_program_name(sim, env) -> None:
    """run without --title names the activity after the program, not the whole command line."""
    assert 0 == livebar("run", "--", *python("pass"), env=env).returncode
    assert 0 == livebar("run", "--shell", "--", "echo one && echo two", env=env).returncode
    assert [os.path.basename(PY), "echo"] == [a["title"] for a in sim.activities()]


def test_push_offers_actions_badge_and_sound(sim, env) -> None:
    """push --action/--webhook/--badge/--sound send the API's actions, badge and sound."""
    done = livebar(
        "push",
        "--title",
        "Deploy?",
        "--action",
        "Open CI=https://ci.example.com/42",
        "--webhook",
        "Ship it=https://ci.example.com/hooks/ship",
        "--badge",
        "3",
        "--sound",
        "default",
        env=env,
    )
    assert 0 == done.returncode, done.stderr
    expected = {
        "title": "Deploy?",
        "actions": [
            {"title": "Open CI", "type": "open_url", "url": "https://ci.example.com/42"},
            {
                "title": "Ship it",
                "type": "webhook",
                "url": "https://ci.example.com/hooks/ship",
                "method": "POST",
            },
        ],
        "badge": 3,
        "sound": "default",
    }
    assert expected == sim.requests()[-1]["body"]


def test_no_key_warnings_say_how_to_silence_them(sim, env) -> None:
    """Without a key, the library's and the command's warnings both mention LIVEBAR_DISABLE=1."""
    del env["ACTIVITYSMITH_API_KEY"]
    code = "import livebar\nwith livebar.live_activity('x'):\n    pass\n"
    library = subprocess.run(
        [PY, "-c", code], env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL
    )
    command = livebar("run", "--", *python("pass"), env=env)
    for done in (library, command):
        assert 0 == done.returncode
        assert 1 == len(done.stderr.splitlines()), done.stderr
        assert b"LIVEBAR_DISABLE=1" in done.stderr


def test_version(env, capsys) -> None:
    """``livebar --version`` prints the version and exits 0."""
    import livebar as package

    assert 0 == main(["--version"])
    assert f"livebar {package.__version__}\n" == capsys.readouterr().out


def test_a_bad_option_shows_its_command_usage(env) -> None:
    """``livebar run --bogus`` prints run's usage (not the top level's) and exits 2."""
    done = livebar("run", "--bogus", "--", "true", env=env)
    stderr = done.stderr.decode()
    assert 2 == done.returncode
    assert stderr.startswith("usage: livebar run ")
    assert "livebar run: error: unrecognized arguments: --bogus" in stderr


@pytest.mark.parametrize("command", ["run", "pipe", "push"])
def test_an_empty_title_is_refused(sim, env, command) -> None:
    """``--title ''`` (or blank) exits 2 before anything runs."""
    extra = ["--", "true"] if command == "run" else []
    done = livebar(command, "--title", " ", *extra, env=env)
    assert 2 == done.returncode
    assert "--title: must not be empty" in done.stderr.decode()
    assert [] == sim.requests()


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_a_port_out_of_range_is_one_line(env, command) -> None:
    """``--port 99999``: one line naming the option, exit 2, no traceback."""
    done = livebar(command, "--port", "99999", env=env)
    lines = done.stderr.decode().splitlines()
    assert (2, 1) == (done.returncode, len(lines)), lines
    assert lines[0].startswith(f"livebar {command}: --port 99999: ")
    assert "--port 0" in lines[0]


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_a_port_in_use_is_one_line(env, command) -> None:
    """A port in use: one line saying which is taken and how to pick another, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = livebar(command, "--port", str(port), env=env)
    lines = done.stderr.decode().splitlines()
    assert (2, 1) == (done.returncode, len(lines)), lines
    assert f"127.0.0.1:{port} is already in use" in lines[0]
    assert "--port 0" in lines[0]


def test_the_demo_says_its_page_is_gone_at_the_end(env) -> None:
    """The demo ends by saying its URL no longer answers, and how to keep it open."""
    env["LIVEBAR_DEMO_FAST"] = "1"
    done = livebar("demo", env=env)
    out = done.stdout.decode()
    assert 0 == done.returncode, done.stderr
    url = re.search(r"open (http://127\.0\.0\.1:\d+/) to watch", out)
    assert url is not None, out
    last = out.splitlines()[-1]
    assert f"{url.group(1)} no longer answers" in last
    assert "--keep-open" in last


@pytest.mark.parametrize("command", ["run", "pipe", "push", "simulate", "demo"])
def test_every_command_has_help(command, capsys) -> None:
    """``livebar COMMAND --help`` prints usage and exits 0."""
    assert 0 == main([command, "--help"])
    assert f"usage: livebar {command}" in capsys.readouterr().out


def test_top_level_help_lists_the_commands(capsys) -> None:
    """``livebar --help`` lists every command."""
    assert 0 == main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("run", "pipe", "push", "simulate", "demo"))


def test_python_dash_m_is_the_same_program(env) -> None:
    """``python -m livebar --help`` works like the ``livebar`` script."""
    done = livebar("--help", env=env)
    assert 0 == done.returncode
    assert b"usage: livebar" in done.stdout


def test_pipe_sigterm_ends_cancelled(sim, env) -> None:
    """Pipe mode killed with SIGTERM exits 143 and the phone says Cancelled."""
    proc = subprocess.Popen(
        [PY, "-m", "livebar", "--total", "100", "--title", "Feed"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"one\n")
    proc.stdin.flush()
    assert b"one\n" == proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert 143 == proc.returncode
    assert shown(sim)["subtitle"].startswith("Cancelled")
