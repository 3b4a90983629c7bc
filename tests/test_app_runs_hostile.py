"""The Runs page (AppTest) with broken, hostile and autosaved runs: it never fails, lists a broken run
with its error and a working Delete, shows user strings as plain text, lists autosaves apart."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from genlab.config import RunConfig
from genlab.live import autosave_root
from genlab.runs import export_zip, save_run
from genlab.trainers import make_trainer

from test_runs_hostile import BAD_META, broken_meta_runs, copy_run, edit_json, png_claiming

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
MARKDOWN_COMMAND = "python -m genlab train [click me](https://evil.example) ![x](https://evil.example/x.png) **loud**"


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "checkpoints"
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(root))
    trainer = make_trainer(RunConfig(name="src").replace(**{"data.n_samples": 256, "model.width": 8,
                                                            "optim.batch_size": 16}), device="cpu")
    trainer.step()
    save_run(trainer, root=tmp_path / "source", name="good", command=MARKDOWN_COMMAND)
    return root


def runs_page() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "runs.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_texts(at: AppTest) -> list[str]:
    """Every Markdown string on the page (texts, captions, messages, widget labels)."""
    texts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error") for e in at.get(kind)]
    return texts + [e.label for kind in ("checkbox", "button", "expander") for e in at.get(kind)]


def test_broken_runs_are_listed_with_their_error_and_can_be_deleted(root):
    expected = broken_meta_runs(root.parent / "source" / "good", root)
    at = runs_page()
    table = at.dataframe[0].value
    assert set(table["name"]) == set(expected) | {"a-good-run"}
    errors = " ".join(code.value for code in at.code)
    for name in expected:
        assert f"{name}/meta.json" in errors, name
    first = sorted(expected)[0]
    assert at.button(key=f"runs.broken.delete.{first}").disabled  # until the confirmation is ticked
    at.checkbox(key=f"runs.broken.confirm.{first}").check().run()
    at.button(key=f"runs.broken.delete.{first}").click().run()
    assert not at.exception
    assert not (root / first).exists() and (root / "a-good-run").is_dir()
    assert first not in set(at.dataframe[0].value["name"])
    assert len(BAD_META) == len(expected)


def test_a_recorded_command_is_plain_text_not_markdown(root):
    (root.parent / "source" / "good").rename(root.parent / "good")
    root.mkdir()
    (root.parent / "good").rename(root / "good")
    at = runs_page()
    assert any(code.value == MARKDOWN_COMMAND for code in at.code)
    assert not any("evil.example" in text and "\\]" not in text for text in markdown_texts(at))


def test_a_run_whose_preview_claims_a_huge_picture_does_not_break_the_page(root):
    """Pillow refuses to decode a 20,000² picture (DecompressionBombError): the page must not ask it to."""
    run = copy_run(root.parent / "source" / "good", root, "0-first-in-the-list")
    (run / "preview.png").write_bytes(png_claiming(20_000, 20_000))
    at = runs_page()
    notes = [c.value for c in at.caption if "preview not shown" in c.value]
    assert notes and "20,000 × 20,000" in notes[0].replace("\\", ""), [c.value for c in at.caption]
    assert at.selectbox(key="runs.manage").options  # the page goes on to Manage, where the run can be deleted


def test_an_upload_refusal_quotes_the_zip_entry_as_plain_text(root):
    entries = [("good/config.json", b"{}"), ("good/[x](https:evil.example).md", b"")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    at = runs_page()
    at.file_uploader(key="runs.upload").set_value(("evil.zip", buffer.getvalue(), "application/zip")).run()
    at.button(key="runs.import").click().run()
    assert not at.exception
    refused = [e.value for e in at.error if "Upload refused" in e.value]
    assert refused and "\\[x\\]\\(https\\:evil\\.example\\)" in refused[0], refused


def test_autosaved_runs_are_listed_apart_and_can_be_continued_or_deleted(root):
    source = root.parent / "source" / "good"
    trainer = make_trainer(RunConfig(name="x").replace(**{"data.n_samples": 256, "model.width": 8}), device="cpu")
    for _ in range(4):
        trainer.step()
    save_run(trainer, root=autosave_root(root), name="tab-0123456789abcdef0123")
    save_run(make_trainer(RunConfig(name="y").replace(**{"data.n_samples": 256}), device="cpu"), root=root, name="saved")
    at = runs_page()
    assert list(at.dataframe[0].value["name"]) == ["saved"]  # autosaves are not saved runs
    assert any("step 4" in e.label for e in at.expander)
    at.button(key="runs.autosave.open.tab-0123456789abcdef0123").click().run()
    assert Path(at.session_state["open_run"]) == autosave_root(root) / "tab-0123456789abcdef0123"
    at.checkbox(key="runs.autosave.confirm.tab-0123456789abcdef0123").check().run()
    at.button(key="runs.autosave.delete.tab-0123456789abcdef0123").click().run()
    assert not at.exception and not (autosave_root(root) / "tab-0123456789abcdef0123").exists()
    assert source.is_dir()


def test_an_imported_run_says_which_data_settings_were_dropped(root):
    trainer = make_trainer(RunConfig(name="digits").replace(**{"data.name": "shapes", "data.image_size": 28,
                                                               "data.n_samples": 64, "model.width": 8}), device="cpu")
    run = save_run(trainer, root=root.parent / "source", name="digits")
    edit_json(run / "config.json", lambda c: c["data"].update(name="mnist", path="/etc", download=True))
    at = runs_page()
    at.file_uploader(key="runs.upload").set_value(("run.zip", export_zip("digits", run.parent), "application/zip")).run()
    at.button(key="runs.import").click().run()
    assert not at.exception and any("Imported" in s.value for s in at.success), [e.value for e in at.error]
    assert any("dropped" in i.value for i in at.info)  # shown with the run
    meta = json.loads((root / "digits" / "meta.json").read_text())
    assert "data.path '/etc'" in meta["data_note"] and "download: true" in meta["data_note"]
    assert json.loads((root / "digits" / "config.json").read_text())["data"] == {
        **json.loads((run / "config.json").read_text())["data"], "path": "", "download": False}
