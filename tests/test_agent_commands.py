"""`refuge doc add` run by the unlock agent (refuge/_launch.py, refuge/_agent_commands.py).

What it promises: the same command, the same result, the same refusals as in a
process of its own; the passphrase never leaves the client; nothing runs for
anyone but the agent's own user and identity; Ctrl-C or a killed client stops
the command there as it would here; an agent of another user is never asked.
"""

from __future__ import annotations

import array
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import refuge
from refuge import _launch
from vault import agent

# The agent's rules hold whatever the backend: one test goes through S3, the rest use the folder.
local = pytest.mark.parametrize("world", ["local"], indirect=True)

# The client as the installed `refuge` runs it, saying at its end whether it loaded the command line
# (one the agent ran ends with os._exit: it has nothing of its own to finalise).
CLIENT = ("import os, sys\nfrom refuge._launch import main\nsys.argv[0] = 'refuge'\n"
          "def said():\n    sys.stderr.write('\\nclick loaded: %s\\n' % ('click' in sys.modules))\n    sys.stderr.flush()\n"
          "_exit = os._exit\nos._exit = lambda code: (said(), _exit(code))\n"
          "try:\n    main()\nfinally:\n    said()\n")


def _client(world, cwd, *args, **extra) -> subprocess.CompletedProcess:
    """bob's `refuge ARGS` run in ``cwd`` (``extra``: the environment's changes; no passphrase by default)."""
    env = world.env("bob", **{"REFUGE_PASSPHRASE": "", **extra})
    return subprocess.run([sys.executable, "-P", "-c", CLIENT, *args], env=env, capture_output=True, cwd=cwd,
                          timeout=120)


def _lines(p: subprocess.CompletedProcess) -> tuple[list[str], bool]:
    """The client's stderr lines and whether it loaded click (ran the command itself)."""
    lines = p.stderr.decode().splitlines()
    assert lines and lines[-1].startswith("click loaded: "), p.stderr
    return [ln for ln in lines[:-1] if ln], lines[-1] == "click loaded: True"


def _doc_ids(world) -> set[str]:
    p = world.run("doc", "list", "MX-0001", "--json", user="bob")
    assert p.returncode == 0, p.stderr
    return {d["id"] for d in json.loads(p.stdout)}


def test_doc_add_runs_in_the_agent_and_stores_what_a_process_of_its_own_stores(unlocked, tmp_path):
    world = unlocked
    statement = tmp_path / "statement.txt"
    statement.write_text("On the first day of the journey we crossed the river near the town.\n"
                         "I kept my papers in a bag that my sister gave me before we left.\n" * 200)
    before = _doc_ids(world)
    p = _client(world, tmp_path, "doc", "add", "MX-0001", "statement.txt", "--type", "legal-declaration", "--tag", "intake")
    errors, here = _lines(p)
    assert p.returncode == 0 and not errors, p.stderr
    assert not here, "the client loaded the command line: the agent did not run it"
    [doc_id] = p.stdout.decode().split()
    assert _doc_ids(world) == before | {doc_id}
    got = world.run("doc", "get", doc_id, user="bob")
    assert got.returncode == 0 and got.stdout == statement.read_bytes()
    [shown] = [d for d in json.loads(world.run("doc", "list", "MX-0001", "--json", user="bob").stdout)
               if d["id"] == doc_id]
    assert (shown["filename"], shown["tags"], shown["type"], shown["added_by"]) == (
        "statement.txt", ["intake"], "legal-declaration", "bob")
    log = world.run("audit", "log", "--json", user="dave")
    last = [e for e in json.loads(log.stdout) if e["action"] == "doc.add"][-1]
    assert (last["name"], last["result"], last["docs"]) == ("bob", "ok", [doc_id])


@local
def test_a_refusal_through_the_agent_is_the_line_and_code_of_a_process_of_its_own(unlocked, tmp_path):
    world = unlocked
    (tmp_path / "tool.exe").write_bytes(b"MZ\x90\x00" + bytes(4096))
    for args in (["NOPE-1", "tool.exe", "--type", "other"], ["MX-0001", "tool.exe", "--type", "other"],
                 ["MX-0001", "missing.pdf"], ["MX-0001", "tool.exe", "--type", "nonsense"]):
        there = _client(world, tmp_path, "doc", "add", *args)
        here = _client(world, tmp_path, "doc", "add", *args, REFUGE_PASSPHRASE=world.env()["REFUGE_PASSPHRASE"],
                       XDG_RUNTIME_DIR=str(tmp_path / "none"))  # no agent there: the command runs in its process
        (there_lines, there_local), (here_lines, here_local) = _lines(there), _lines(here)
        assert here_local and not there_local, args
        assert (there.returncode, there_lines) == (here.returncode, here_lines), args
        assert there.returncode in (1, 2) and len(there_lines) == 1, there.stderr


@local
def test_the_passphrase_never_leaves_the_client(case_world, runtime):
    """A listener at the agent's place records what a client sends it: arguments, folder and
    environment, but never REFUGE_PASSPHRASE or REFUGE_PASSPHRASE_FILE."""
    path = agent.socket_path(case_world.home, "bob")
    secret = "correct horse battery staple for bob"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    got: list = []

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            data, anc, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))
            while not data.endswith(b"\n"):
                data += conn.recv(1 << 20)
            fds = array.array("i")
            for _, _, payload in anc:
                fds.frombytes(payload)
            got.append((data, len(fds)))
            for fd in fds:
                os.close(fd)
            conn.sendall(b'{"running": true}\n')
            got.append(conn.recv(1))
            conn.sendall(b'{"exit": 7}\n')

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        p = subprocess.run([sys.executable, "-P", "-c", CLIENT, "doc", "add", "MX-0001", "x.pdf"],
                           env=case_world.env("bob", REFUGE_PASSPHRASE=secret, REFUGE_PASSPHRASE_FILE="/p/file"),
                           capture_output=True, timeout=60)
        t.join(10)
    finally:
        listener.close()
        path.unlink(missing_ok=True)
    assert p.returncode == 7, p.stderr
    [(data, nfds), go] = got
    assert go == b"g"
    request = json.loads(data)
    assert nfds == 3 and request["argv"] == ["doc", "add", "MX-0001", "x.pdf"] and request["op"] == "run"
    assert request["env"]["REFUGE_USER"] == "bob"
    assert secret.encode() not in data and b"/p/file" not in data
    assert not {"REFUGE_PASSPHRASE", "REFUGE_PASSPHRASE_FILE"} & set(request["env"])


@local
def test_a_socket_in_another_users_folder_is_never_asked(case_world, runtime):
    """Another account made the agents' folder first and listens where bob's agent would: the
    client sends it nothing and runs the command itself."""
    if os.geteuid() != 0:
        pytest.skip("making a folder of another account needs root")
    folder = agent.socket_path(case_world.home, "bob").parent
    path = agent.socket_path(case_world.home, "bob")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(0.2)
    os.chown(folder, 65534, 65534)
    os.chown(path, 65534, 65534)
    try:
        p = subprocess.run([sys.executable, "-P", "-c", CLIENT, "doc", "list", "MX-0001"],  # not routed: the control
                           env=case_world.env("bob"), capture_output=True, timeout=60)
        assert p.returncode == 0
        p = subprocess.run([sys.executable, "-P", "-c", CLIENT, "doc", "add", "MX-0001", "nothing.pdf", "--type", "other"],
                           env=case_world.env("bob"), capture_output=True, timeout=60)
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
        shutil.rmtree(folder)
    errors, here = _lines(p)
    assert here and p.returncode == 1 and len(errors) == 1, p.stderr


def _raw_run(path: Path, request: dict) -> bytes:
    """A request sent to the agent by hand, with this process's descriptors; what it answered."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(path))
        s.sendmsg([json.dumps(request).encode() + b"\n"],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", (0, 1, 2)))])
        chunks = [s.recv(65536)]
        if chunks[0] == b'{"running": true}\n':
            s.sendall(b"g")  # as the client does: go on
        while data := s.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


@local
def test_the_agent_runs_only_doc_add_and_only_for_its_own_identity(unlocked, tmp_path):
    """Hand-made requests to bob's agent: a command other than doc add, doc add for carol (whose identity
    this agent does not hold, in bob's own home), and doc add from another installation of refuge (whose
    options may differ) are answered "fallback" and nothing runs."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    (tmp_path / "note.txt").write_text("a note\n")
    before = _doc_ids(world)
    base = {"op": "run", "cwd": str(tmp_path), "encodings": {}, "code": str(Path(refuge.__file__).parent),
            "place": _launch.place(), "umask": 0o022}
    env = {k: v for k, v in world.env("bob").items() if k != "REFUGE_PASSPHRASE"}
    add = ["doc", "add", "MX-0001", "note.txt", "--type", "other"]
    for argv, user, code in ((["user", "remove", "carol"], "bob", base["code"]), (["case", "list"], "bob", base["code"]),
                             (add, "carol", base["code"]), (add, "bob", "/elsewhere/site-packages/refuge")):
        answer = _raw_run(path, {**base, "argv": argv, "env": {**env, "REFUGE_USER": user}, "code": code})
        assert answer == b'{"fallback": true}\n', (argv, answer)
    assert _doc_ids(world) == before
    answer = _raw_run(path, {**base, "argv": ["doc", "add", "MX-0001", "note.txt", "--type", "other"], "env": env})
    assert answer.startswith(b'{"running": true}\n') and answer.endswith(b'{"exit": 0}\n'), answer
    assert len(_doc_ids(world)) == len(before) + 1


@local
def test_another_account_gets_nothing_from_the_agent_even_through_an_open_folder(unlocked, tmp_path):
    """uid 65534 reaches bob's socket (its folder opened by mistake) and asks it to run doc add and for the
    identity: the agent answers nothing, and nothing is added."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("running as another user needs root, setpriv and /usr/bin/python3")
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    note = tmp_path / "note.txt"
    note.write_text("a note\n")
    os.chmod(tmp_path, 0o755)
    before = _doc_ids(world)
    probe = ("import array, json, socket, sys\nout = []\n"
             "for op in ('run', 'identity'):\n"
             "    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])\n"
             "    r = {'op': op, 'argv': ['doc', 'add', 'MX-0001', sys.argv[2], '--type', 'other'], 'cwd': '/',\n"
             "         'env': json.loads(sys.argv[3]), 'encodings': {}}\n"
             "    try:\n"
             "        s.sendmsg([json.dumps(r).encode() + b'\\n'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,"
             " array.array('i', (0, 1, 2)))])\n"
             "        out.append(s.recv(65536).decode())\n"
             "    except OSError:  # closed at once\n"
             "        out.append('')\n"
             "    s.close()\n"
             "print(json.dumps(out))\n")
    os.chmod(path.parent.parent, 0o711)
    os.chmod(path.parent, 0o777)
    os.chmod(path, 0o777)
    try:
        env = {k: v for k, v in world.env("bob").items() if k != "REFUGE_PASSPHRASE"}
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                            probe, str(path), str(note), json.dumps(env)], capture_output=True, text=True, timeout=60,
                           cwd="/")
    finally:
        os.chmod(path.parent, 0o700)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == ["", ""]
    assert _doc_ids(world) == before


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _forks(path: Path) -> list[tuple[int, str]]:
    """(pid, name) of the living processes started as the agent listening at ``path``: the agent itself
    and its children (refuge-spare, refuge-command: named, they share its command line), even once the
    agent is gone."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if b"vault.agent" in argv and str(path).encode() in argv and _alive(int(entry.name)):
            found.append((int(entry.name), comm))
    return found


def _agent(path: Path) -> int:
    """The agent listening at ``path``, found by its command line. Not by the socket's peer credentials:
    until the agent has started and listens again, they name the `refuge unlock` that bound the socket."""
    found = [pid for pid, comm in _forks(path) if not comm.startswith("refuge-")]
    assert len(found) == 1, found
    return found[0]


def _children(path: Path, name: str) -> list[int]:
    """The agent's children named ``name`` (refuge-command, refuge-spare), even once the agent is gone."""
    return [pid for pid, comm in _forks(path) if comm == name]


def _finish(client: subprocess.Popen, fifo: Path) -> subprocess.CompletedProcess:
    """Give a waiting add (:func:`_waiting_add`) its type map and wait for it (killed if the test fails first)."""
    try:
        with open(fifo, "w") as f:
            f.write(".txt = other\n")
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    return subprocess.CompletedProcess(client.args, client.returncode, out, err)


def _waiting_add(world, folder: Path, name: str, **popen) -> subprocess.Popen:
    """bob's `doc add NAME` through the agent, waiting on its type map: a FIFO nobody writes yet
    (``folder``/types.fifo); it goes on once the test writes one."""
    os.mkfifo(folder / "types.fifo")
    return subprocess.Popen([sys.executable, "-P", "-c", CLIENT, "doc", "add", "MX-0001", name, "--type-map",
                             str(folder / "types.fifo")], env=world.env("bob", REFUGE_PASSPHRASE=""), cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _command(path: Path, client: subprocess.Popen) -> int:
    """The agent's child running the client's command, once there is one."""
    deadline = time.monotonic() + 30
    while not (running := _children(path, "refuge-command")):
        assert time.monotonic() < deadline and client.poll() is None, client.communicate()
        time.sleep(0.05)
    return running[0]


def _workers(parent: int) -> dict[str, int]:
    """The keyless workers a process started, by task: {"vault.intake:_inspect_task": pid, ...}."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):
            continue
        if int(stat_fields[1]) == parent and "vault._worker_main" in argv:
            found[argv[argv.index("vault._worker_main") + 1]] = int(entry.name)
    return found


def _ready_spare(path: Path) -> tuple[int, dict[str, int]]:
    """The agent's spare child once it has started its keyless workers: (its pid, its workers by task)."""
    deadline = time.monotonic() + 30
    while len(ahead := _workers(next(iter(_children(path, "refuge-spare")), 0))) < 2:
        assert time.monotonic() < deadline, f"the spare did not start its workers: {ahead}"
        time.sleep(0.05)
    return _children(path, "refuge-spare")[0], ahead


def _bounds(pid: int) -> tuple[int, str, str]:
    """A process's niceness, and its file size and CPU time limits as /proc/PID/limits shows them."""
    nice = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    rows = {line[:26].strip(): line[26:].split()[:2] for line in Path(f"/proc/{pid}/limits").read_text().splitlines()}
    return nice, " ".join(rows["Max file size"]), " ".join(rows["Max cpu time"])


@local
@pytest.mark.parametrize("how", ["ctrl-c", "killed"])
def test_ctrl_c_or_a_killed_client_stops_the_command_in_the_agent(unlocked, tmp_path, how):
    """The command waits on a type map that is a FIFO nobody writes: the client is interrupted (SIGINT,
    as a terminal's Ctrl-C) or killed outright; the agent's child stops at once, adds nothing, and
    (for Ctrl-C) the client exits 130 with the command's own line."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    (tmp_path / "note.txt").write_text("a note\n")
    before = _doc_ids(world)
    client = _waiting_add(world, tmp_path, "note.txt")
    fifo = tmp_path / "types.fifo"
    _command(path, client)
    time.sleep(0.3)  # the child reaches the FIFO
    client.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    out, err = client.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _children(path, "refuge-command"):
        assert time.monotonic() < deadline, "the agent's child went on after its client was gone"
        time.sleep(0.05)
    if how == "ctrl-c":
        lines, here = _lines(subprocess.CompletedProcess([], 130, out, err))
        assert client.returncode == 130 and lines == ["refuge: error: interrupted"] and not here, err
    assert _doc_ids(world) == before
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@local
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGXCPU])
def test_a_command_killed_in_the_agent_ends_its_client_by_the_same_signal(unlocked, tmp_path, sig):
    """The agent's child dies of a signal mid-command (SIGKILL: the OOM killer, someone's kill -9;
    SIGXCPU: the client's CPU limit reached): it never gives its exit, so the agent, which reaps it,
    tells the client, which dies of the same signal as a process of its own would have (a shell
    shows "Killed", a script sees 128 + N), promptly, with no line of its own. Nothing is added, and
    the agent runs the next add."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    (tmp_path / "note.txt").write_text("a note\n")
    before = _doc_ids(world)
    client = _waiting_add(world, tmp_path, "note.txt")
    command = _command(path, client)
    time.sleep(0.3)  # the child reaches the FIFO
    os.kill(command, sig)
    killed = time.monotonic()
    out, err = client.communicate(timeout=30)
    assert client.returncode == -sig and time.monotonic() - killed < 3, (client.returncode, err)
    assert b"agent stopped" not in err and b"click loaded" not in err, err  # died of it: not even its finally
    assert _doc_ids(world) == before
    (tmp_path / "next.txt").write_text("the next note\n")
    p = _client(world, tmp_path, "doc", "add", "MX-0001", "next.txt", "--type", "other")
    lines, here = _lines(p)
    assert p.returncode == 0 and not here and len(_doc_ids(world) - before) == 1, p.stderr


@local
@pytest.mark.parametrize("bounds", ["nice", "nice-and-limits"])
def test_the_command_runs_with_the_clients_resource_limits_and_niceness(unlocked, tmp_path, bounds):
    """A script adds under `nice -n 7` (and `ulimit -t 30 -f`): the agent's child that runs its add has that
    niceness and those limits, read from the kernel, as a process of its own would, and so have its keyless
    workers: those the spare started ahead take the niceness; under other limits they are replaced by ones
    started under them (a check gets 30 s of CPU, as in a process of its own). The agent's next child has
    the agent's own."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    (tmp_path / "note.txt").write_text("a note\n")
    agent_bounds = _bounds(_agent(path))
    spare, ahead = _ready_spare(path)
    limited = bounds == "nice-and-limits"

    def bounded() -> None:
        os.nice(7)
        if limited:
            resource.setrlimit(resource.RLIMIT_FSIZE, (50 << 20, 50 << 20))
            resource.setrlimit(resource.RLIMIT_CPU, (30, 30))

    nice = os.getpriority(os.PRIO_PROCESS, 0) + 7
    client = _waiting_add(world, tmp_path, "note.txt", preexec_fn=bounded)
    try:
        command = _command(path, client)
        deadline = time.monotonic() + 10  # until the child has taken them (or never: then the asserts say so)
        while True:
            try:
                got, workers = _bounds(command), _workers(command)
                worker_bounds = {task: _bounds(pid) for task, pid in workers.items()}
            except OSError:  # a worker stopped as it was read
                continue
            if (got[0] == nice and all(w[0] == nice for w in worker_bounds.values())
                    and (not limited or "vault.intake:_inspect_task" in workers)) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        p = _finish(client, tmp_path / "types.fifo")
    assert p.returncode == 0 and not _lines(p)[1], p.stderr
    if limited:
        assert got == (nice, f"{50 << 20} {50 << 20}", "30 30"), got
        # the spare's workers stopped; intake's started anew under the limits (the text worker: once there is text)
        assert list(workers) == ["vault.intake:_inspect_task"] and set(workers.values()).isdisjoint(ahead.values())
        assert all(w[0] == nice and w[2] == "30 30" for w in worker_bounds.values()), worker_bounds
    else:
        assert command == spare and got == (nice, *agent_bounds[1:]), (command, spare, got)
        assert workers == ahead and all(w[0] == nice for w in worker_bounds.values()), (workers, ahead, worker_bounds)
    assert _bounds(_ready_spare(path)[0]) == agent_bounds != got


@local
def test_the_spare_starts_the_text_worker_and_the_add_is_searchable_at_once(unlocked, tmp_path):
    """The spare child starts, besides intake's, the keyless worker that reads a new document's text for
    the search index, and the add uses that very worker: the client's PYTHONPATH holds a `packets` that
    cannot load, so a worker started for the add could not read the text (search would miss it, with a
    warning); the one started ahead, with the agent's, does."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    _, ahead = _ready_spare(path)
    assert "packets._text:text_task" in ahead, ahead
    shadow = tmp_path / "shadow" / "packets"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not this packets')\n")
    (tmp_path / "note.txt").write_text("The ferry left from Quetzalborough at dawn.\n")
    p = _client(world, tmp_path, "doc", "add", "MX-0001", "note.txt", "--type", "other",
                PYTHONPATH=str(shadow.parent))
    assert p.returncode == 0 and _lines(p) == ([], False), p.stderr
    [doc] = p.stdout.decode().split()
    found = world.run("search", "Quetzalborough", "--json", user="bob")
    assert found.returncode == 0 and doc.encode() in found.stdout, (found.stdout, found.stderr)


@local
def test_the_spare_child_runs_the_next_add_and_dies_with_the_agent(unlocked, tmp_path):
    """The agent keeps one child forked ahead, its keyless worker started, for the next command: the
    add is run by that very process. It holds the identity, so it ends with the agent: on refuge lock,
    and when the agent is killed outright."""
    world = unlocked
    path = agent.socket_path(world.home, "bob")
    deadline = time.monotonic() + 30
    while not _children(path, "refuge-spare"):
        assert time.monotonic() < deadline, "no spare child"
        time.sleep(0.05)
    [spare] = _children(path, "refuge-spare")
    (tmp_path / "note.txt").write_text("a note for the spare\n")
    p = _client(world, tmp_path, "doc", "add", "MX-0001", "note.txt", "--type", "other")
    assert p.returncode == 0 and not _lines(p)[1], p.stderr
    deadline = time.monotonic() + 10  # it ends just after its answer; a spare that never ran it stays
    while _alive(spare):
        assert time.monotonic() < deadline, "the spare did not run the add"
        time.sleep(0.02)
    for end in ("lock", "kill"):
        deadline = time.monotonic() + 30
        while not _children(path, "refuge-spare"):
            assert time.monotonic() < deadline, "no new spare"
            time.sleep(0.05)
        [spare] = _children(path, "refuge-spare")
        if end == "lock":
            assert world.run("lock", user="bob").returncode == 0
        else:
            os.kill(_agent(path), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(spare):
            assert time.monotonic() < deadline, f"the spare outlived its agent ({end})"
            time.sleep(0.05)
        if end == "lock":
            assert world.run("unlock", "--timeout", "5", user="bob").returncode == 0
    path.unlink(missing_ok=True)  # the killed agent's socket
