"""Every page of the dashboard, by section. A test checks each file in app_pages/ is listed."""

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


@dataclass(frozen=True)
class PageEntry:
    file: str
    title: str
    url_path: str

    @property
    def path(self) -> str:
        return str(PAGES_DIR / self.file)


PAGES: dict[str, list[PageEntry]] = {
    "Data": [PageEntry("data_page.py", "Data", "data")],
}
