"""Chinese first, English selectable; both catalogues complete and in step with the code."""
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests import factories as f
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(lang):
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_catalogues_cover_every_message_in_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    for lang in ("zh", "en"):
        catalog = _catalog(lang)
        translated = {m.id: m.string for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
        missing = sorted(wanted - set(translated))
        assert not missing, f"{lang}: untranslated {missing[:10]} (run scripts/i18n.py)"
        for msgid, text in translated.items():
            assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), (lang, msgid, text)


def test_chinese_by_default_english_on_request(app):
    with app.app_context():
        username, _ = f.make_applicant()
    client = login(app.test_client(), username, lang=None)
    page = client.get("/").get_data(as_text=True)
    assert "我的待办" in page and "欢迎您" in page
    assert "注册申报" in client.get("/applications/list/").get_data(as_text=True)
    client.get("/lang/en")
    page = client.get("/").get_data(as_text=True)
    assert "My queue" in page and "我的待办" not in page
