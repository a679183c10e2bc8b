"""The privacy notice: versioned texts, each identified by a hash of exactly what people read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CURRENT_NOTICE_VERSION = "1.1"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Notice:
    version: str
    language: str
    template: str
    text_hash: str


@lru_cache(maxsize=16)
def notice(templates_dir: str, version: str = CURRENT_NOTICE_VERSION, language: str = DEFAULT_LANGUAGE) -> Notice:
    template = f"privacy/notices/{version}.{language}.html"
    path = Path(templates_dir) / template
    if not path.is_file():
        raise LookupError(f"no privacy notice {version} in {language}")
    return Notice(version, language, template, hashlib.sha256(path.read_bytes()).hexdigest())


def known_versions(templates_dir: str) -> list[str]:
    folder = Path(templates_dir) / "privacy" / "notices"
    return sorted({p.name.split(".en.html")[0] for p in folder.glob("*.en.html")})
