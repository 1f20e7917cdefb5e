"""Every page of the dashboard, by section. A test checks each file in app_pages/ is listed."""

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


@dataclass(frozen=True)
class PageEntry:
    file: str
    title: str
    url_path: str
    # None: every signed-in role; else only these roles see the page in the navigation (the
    # page checks the permission itself too)
    roles: tuple[str, ...] | None = None

    @property
    def path(self) -> str:
        return str(PAGES_DIR / self.file)


PAGES: dict[str, list[PageEntry]] = {
    "Clinic": [
        PageEntry("overview_page.py", "Overview", "overview"),
        PageEntry(
            "at_risk_page.py", "Patients at risk", "at-risk", roles=("admin", "clinic_manager")
        ),
        PageEntry("compare_page.py", "Compare clinics", "compare"),
    ],
    "Research": [
        PageEntry("cohort_page.py", "Cohort builder", "cohort"),
        PageEntry("curves_page.py", "Retention curves", "curves"),
        PageEntry("risk_factors_page.py", "Risk factors", "risk-factors"),
        PageEntry("family_page.py", "Family support", "family"),
        PageEntry("relapse_page.py", "Relapse patterns", "relapse"),
        PageEntry("outcomes_page.py", "Recovery outcomes", "outcomes"),
    ],
    "Reports": [PageEntry("reports_page.py", "Reports", "reports")],
    "Data": [PageEntry("data_page.py", "Data", "data")],
    "Admin": [
        PageEntry("users_page.py", "Users", "users", roles=("admin",)),
        PageEntry("audit_page.py", "Audit log", "audit-log", roles=("admin",)),
    ],
}

# Shown by app.py's sign-in gate instead of the navigation, never listed in it.
SIGN_IN_PAGE = PageEntry("sign_in.py", "Sign in", "sign-in")
GATE_PAGES = [SIGN_IN_PAGE]


def visible_pages(role: str) -> dict[str, list[PageEntry]]:
    """The sections and pages a role sees in the navigation (empty sections dropped)."""
    sections = {
        section: [page for page in pages if page.roles is None or role in page.roles]
        for section, pages in PAGES.items()
    }
    return {section: pages for section, pages in sections.items() if pages}
