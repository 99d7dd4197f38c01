"""Download the intersphinx inventories into ``docs/_inventories/``.

Run once on a machine with internet access::

    python docs/fetch_inventories.py

``docs/conf.py`` then links to numpy, scikit-learn, torch, skorch and Python
from these local files, so later builds need no network. Without them (or
``RINCE_DOCS_INTERSPHINX=online``) the build runs without those links.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> int:
    """Fetch every inventory named in ``conf.py``; return the exit status."""
    from conf import _INTERSPHINX_TARGETS  # noqa: PLC0415

    target_dir = HERE / "_inventories"
    target_dir.mkdir(exist_ok=True)
    failed = 0
    for name, url in _INTERSPHINX_TARGETS.items():
        try:
            with urllib.request.urlopen(url + "objects.inv", timeout=30) as reply:
                data = reply.read()
        except OSError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        (target_dir / f"{name}.inv").write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
