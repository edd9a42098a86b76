"""MovieLens 100k for the tests: the real folder when it is beside the clone, else a tiny fake.

The real data set's licence forbids redistribution, so it is never copied into the
repository; CI has it at ``../shared/datasets/ml-100k`` next to the clone. Elsewhere the tests
write a small data set in the same file formats, with an obvious taste structure.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
REAL_DATASET = REPO / ".." / "shared" / "datasets" / "ml-100k"

GENRES = ("unknown", "Action", "Comedy", "Drama")
FIRST_DAY = dt.date(1997, 9, 20)
EMPTY_DAY = 10  # no ratings on FIRST_DAY + 10 days
# Titles that test quoting (a comma) and the Latin-1 encoding of the real files.
SPECIAL_TITLES = {1: "Usual Suspects, The (1995)", 2: "Amélie (2001)"}


def real_dataset() -> Path | None:
    """Return the real MovieLens 100k folder if it is beside the clone."""
    return REAL_DATASET if (REAL_DATASET / "ua.base").is_file() else None


def write_fake_movielens(
    folder: Path, users: int = 120, movies: int = 60, days: int = 70, seed: int = 0
) -> Path:
    """Write a small MovieLens 100k look-alike (ua.base, ua.test, u.item, u.genre, u.user).

    Movies 1..movies/2 are Action, the rest Comedy (every fifth also Drama). Two thirds of the
    users like Comedy, so popularity favours Comedy; each user rates 14 movies of their genre
    (4 or 5) and 2 of the other (1 or 2), at random times over ``days`` days except day
    ``EMPTY_DAY``; the last tenth of the users arrive in the last week. ua.test holds each
    user's last two ratings of their own genre.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    half = movies // 2
    action = np.arange(1, half + 1)
    comedy = np.arange(half + 1, movies + 1)
    start = int(dt.datetime.combine(FIRST_DAY, dt.time(12), dt.UTC).timestamp())
    day_choices = np.array([d for d in range(days) if d != EMPTY_DAY])
    base, test = [], []
    for user in range(1, users + 1):
        liked, other = (action, comedy) if user % 3 == 0 else (comedy, action)
        # Favourites are the low ids of the genre, so the taste is learnable.
        own = rng.choice(liked[: len(liked) * 2 // 3], size=14, replace=False)
        rated = [(int(m), int(rng.integers(4, 6))) for m in own]
        rated += [(int(m), int(rng.integers(1, 3))) for m in rng.choice(other, 2, replace=False)]
        late = user > users * 0.9
        choices = day_choices[day_choices >= days - 7] if late else day_choices
        when = np.sort(rng.choice(choices, size=len(rated))) * 86_400 + start
        when += rng.integers(0, 3600, size=len(rated))
        order = rng.permutation(len(rated))
        rows = [(user, *rated[i], int(t)) for i, t in zip(order, when, strict=True)]
        own_rows = [r for r in rows if r[1] in set(own.tolist())]
        held = {r[1] for r in own_rows[-2:]}
        for row in rows:
            (test if row[1] in held else base).append(row)
    # The first and last days carry a rating each, so the range is exactly `days` days long.
    base[0] = (base[0][0], base[0][1], base[0][2], start)
    base[1] = (base[1][0], base[1][1], base[1][2], start + (days - 1) * 86_400)
    for name, rows in (("ua.base", base), ("ua.test", test)):
        lines = (f"{u}\t{m}\t{r}\t{t}" for u, m, r, t in sorted(rows))
        (folder / name).write_text("\n".join(lines) + "\n")
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    items = []
    for movie in range(1, movies + 1):
        flags = ["0"] * len(GENRES)
        flags[1 if movie <= half else 2] = "1"
        if movie % 5 == 0:
            flags[3] = "1"
        title = SPECIAL_TITLES.get(movie, f"Movie {movie} (1996)")
        items.append(f"{movie}|{title}|01-Jan-1996||http://example.org/{movie}|" + "|".join(flags))
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    occupations = ("student", "engineer", "writer")
    (folder / "u.user").write_text(
        "".join(
            f"{u}|{20 + u % 40}|{'MF'[u % 2]}|{occupations[u % 3]}|{u:05d}\n"
            for u in range(1, users + 1)
        )
    )
    return folder
