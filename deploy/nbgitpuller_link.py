"""Print the nbgitpuller link that gives every student the course, for a hub, a repository and a branch.

A student who clicks the link logs in to the hub, gets a server, and finds the repository pulled into their home
folder (cloned the first time, merged later without overwriting their own changes: nbgitpuller's rules), then
lands on the course's first notebook. An instructor who pushes a fix sends the same link again.

Usage: python deploy/nbgitpuller_link.py HUB_URL [--repo URL] [--branch NAME] [--folder NAME]
"""

from __future__ import annotations

import argparse
from urllib.parse import quote, urlencode

DEFAULT_REPO = "https://github.com/kmslib/kmslib"
FIRST_PAGE = "notebooks/00_start_here.ipynb"


def link(hub: str, repo: str = DEFAULT_REPO, branch: str = "main", folder: str = "kmslib") -> str:
    """The nbgitpuller link: the hub's ``user-redirect`` to the student's own ``git-pull``, opening the course.

    Args:
        hub: the hub's address, such as ``https://hub.example.edu``.
        repo: the repository to pull (any git URL nbgitpuller can clone).
        branch: the branch.
        folder: the folder it lands in, in each student's home.
    """
    query = urlencode(
        {"repo": repo, "branch": branch, "targetpath": folder, "urlpath": f"lab/tree/{folder}/{FIRST_PAGE}"},
        quote_via=quote,
    )
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def main(argv: list[str] | None = None) -> int:
    """Print the link for the arguments given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hub", help="the hub's address, such as https://hub.example.edu")
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--branch", default="main")
    parser.add_argument("--folder", default="kmslib")
    args = parser.parse_args(argv)
    print(link(args.hub, args.repo, args.branch, args.folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
