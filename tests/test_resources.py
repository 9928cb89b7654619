"""Shipped resources are complete and found the same way from a checkout, an installed wheel and a frozen app."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from nnstudio import resources_path
from nnstudio.resources_path import resource, resources_root
from nnstudio.selftest import REQUIRED_RESOURCES

ROOT = Path(__file__).resolve().parent.parent
SUBFOLDERS = ("datasets", "models", "examples", "icons", "translations")


def test_checkout_lookup_finds_the_repository_resources():
    root = resources_root()
    assert root.resolve() == (ROOT / "resources").resolve()
    for name in SUBFOLDERS:
        assert (root / name).is_dir(), f"resources/{name} is missing"
    assert resource("datasets", "CREDITS.md").read_text(encoding="utf-8").startswith("# Dataset credits")


@pytest.mark.parametrize("parts", REQUIRED_RESOURCES, ids=lambda p: "/".join(p))
def test_every_resource_the_app_needs_is_shipped(parts):
    path = resource(*parts)
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size > 0


def test_frozen_lookup_uses_the_bundle_folder(tmp_path, monkeypatch):
    bundled = tmp_path / "nnstudio" / "resources"
    (bundled / "models").mkdir(parents=True)
    (bundled / "models" / "m.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_path.resources_root() == bundled
    assert resources_path.resource("models", "m.json").read_text(encoding="utf-8") == "{}"


def test_plain_checkout_without_installation_falls_back_to_the_folder_beside_the_package(tmp_path):
    """Copy the package and resources into a bare tree and import it with no site-packages at all."""
    tree = tmp_path / "checkout"
    (tree / "nnstudio").mkdir(parents=True)
    for name in ("__init__.py", "resources_path.py"):
        shutil.copy(ROOT / "nnstudio" / name, tree / "nnstudio" / name)
    shutil.copytree(ROOT / "resources" / "translations", tree / "resources" / "translations")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from nnstudio.resources_path import resource; "
            "p = resource('translations', 'zh_CN', 'LC_MESSAGES', 'nnstudio.mo'); print(p); assert p.is_file(), p")
    result = subprocess.run([sys.executable, "-S", "-c", code, str(tree)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Path(result.stdout.strip()) == tree / "resources" / "translations" / "zh_CN" / "LC_MESSAGES" / "nnstudio.mo"


def test_installed_wheel_ships_and_finds_the_resources(tmp_path):
    """Build the real wheel from a copy of the sources, unpack it as site-packages and look resources up."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "nnstudio", src / "nnstudio", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "resources", src / "resources", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("nnstudio-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for parts in REQUIRED_RESOURCES:
            assert "nnstudio/resources/" + "/".join(parts) in names, f"{'/'.join(parts)} not in the wheel"
        packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "nnstudio").rglob("__init__.py")}
        missing = sorted(pkg for pkg in packages if f"{pkg}/__init__.py" not in names)
        assert not missing, f"packages left out of the wheel: {missing}"
        site = tmp_path / "site"
        archive.extractall(site)
    # -S: no site-packages, so neither the checkout nor an editable install can answer instead of the wheel.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from nnstudio.resources_path import resources_root, "
            "resource; print(resources_root()); assert resource('models', 'digits-lenet.npz').is_file()")
    result = subprocess.run([sys.executable, "-S", "-c", code, str(site)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Path(result.stdout.strip()) == site / "nnstudio" / "resources"


def test_desktop_entry_names_the_installed_command_and_icon():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(ROOT / "resources" / "nnstudio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "nnstudio"
    assert entry["Icon"] == "nnstudio"
    assert entry["Categories"].endswith(";")
    for suffix in ("png", "svg"):
        assert resource("icons", f"nnstudio.{suffix}").is_file()


def test_app_icon_files_are_valid_and_match_the_sizes_installers_need():
    from PIL import Image

    with Image.open(resource("icons", "nnstudio.png")) as png:
        assert png.size == (256, 256)
        assert png.mode == "RGBA"
        assert png.getpixel((0, 0))[3] == 0, "the icon's corners should be transparent (rounded square)"
        assert png.getpixel((128, 128))[3] == 255
    with Image.open(resource("icons", "nnstudio.ico")) as ico:
        sizes = set(ico.ico.sizes())
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= sizes
    svg = ET.parse(resource("icons", "nnstudio.svg")).getroot()
    assert svg.tag.endswith("svg")
    assert resource("icons", "nnstudio.svg").read_bytes() == resource("icons", "app.svg").read_bytes()
