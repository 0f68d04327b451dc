"""``oneiro init`` makes the token file, ``oneiro serve`` serves with it, and the token resolves
from ``$ONEIRO_TOKEN`` first; a missing or empty token never lets a write through."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from oneiro.cli import app
from oneiro.errors import ConfigError
from oneiro.service.token import TOKEN_ENV, ensure_token_file, resolve_token, token_path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_init_makes_a_private_token_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    home = tmp_path / "home"
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--home", str(home), "--embedder", "hashing"])
    assert first.exit_code == 0, first.output
    path = token_path(home)
    token = path.read_text(encoding="utf-8").strip()
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    assert path.read_text(encoding="utf-8").strip() == token, "a second init keeps the token"
    assert resolve_token(home) == token


def test_the_environment_wins_and_an_empty_token_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_token_file(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert resolve_token(tmp_path) == "from-env"
    monkeypatch.setenv(TOKEN_ENV, "  ")
    with pytest.raises(ConfigError):
        resolve_token(tmp_path)
    monkeypatch.delenv(TOKEN_ENV)
    token_path(tmp_path).write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        resolve_token(tmp_path)
    assert resolve_token(tmp_path / "nowhere") is None


def test_oneiro_serve_answers_on_loopback_with_the_init_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env.update({"PYTHONPATH": str(SRC), "ONEIRO_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    cli = [sys.executable, "-c", "from oneiro.cli import main; main()"]
    subprocess.run([*cli, "init", "--embedder", "hashing"], env=env, check=True, capture_output=True)
    token = token_path(home).read_text(encoding="utf-8").strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                page = httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert page.status_code == 200 and "<title>oneiro</title>" in page.text
        assert httpx.get(f"{url}/static/app.js").status_code == 200
        r = httpx.post(
            f"{url}/v1/memories", json={"text": "hello"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 201
        assert httpx.post(f"{url}/v1/memories", json={"text": "x"}).status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"#token={token}" in err
