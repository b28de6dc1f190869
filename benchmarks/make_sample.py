"""Write the bundled demo sample: a few hundred realistic, messy leads (seeded, reproducible).

What it holds, on purpose (each is something `leadbridge demo` shows being handled):
- the same person several times in different formats (case, spaces, phone punctuation,
  +1 prefix, an extension) -> one golden row;
- households: different people sharing one phone -> MEGA would merge them (a conflict);
- placeholder phones (000-000-0000, 123-456-7890) on many unrelated people -> left out;
- bad emails (no domain, "n/a") and missing fields (name only, phone only);
- a record with no name, phone or email at all;
- two rows with a stage MEGA's pipeline does not have -> MEGA fails them with its reason;
- a custom column MEGA does not define (``favorite_color``) -> ignored and reported.

    python benchmarks/make_sample.py            # rewrites core/data/sample_leads.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
         "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Thomas", "Sarah", "Carlos", "Aisha", "Wei", "Priya", "Seán", "Chloé", "Zoë", "José"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Lee",
        "O'Brien", "Müller", "Tanaka", "Okafor", "Dubois", "Nguyen"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "realty.co"]
AREAS = ["206", "415", "312", "617", "503", "702", "512", "305"]
STAGES = ["new", "New", "contacted", "Contacted", "qualified", "proposal", ""]
PLATFORMS = ["google_ads", "meta_ads", "referral", "direct", "google_organic", ""]
TIMELINES = ["0-3 months", "3-6 months", "6-12 months", ""]
HEADER = ["id", "Full Name", "E-mail", "Phone Number", "Lead Source", "Stage", "lead_line",
          "budget", "timeline", "favorite_color", "Last Modified"]


def _phone_variants(digits: str, rng: random.Random) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a}.{b}.{c}", f"{a}{b}{c}",
                       f"1-{a}-{b}-{c}", f"{a}.{b}.{c} x{rng.randint(10, 99)}"])


def _email_variant(email: str, rng: random.Random) -> str:
    return rng.choice([email, email.upper(), f"  {email} ", email.capitalize()])


def make(seed: int = 42, people: int = 300) -> list[list[str]]:
    rng = random.Random(seed)
    rows: list[list[str]] = []
    day = 0

    def add(name: str, email: str, phone: str, stage: str | None = None,
            color: str = "") -> None:
        nonlocal day
        day += 1
        rows.append([
            "", name, email, phone, rng.choice(PLATFORMS),
            rng.choice(STAGES) if stage is None else stage, rng.choice(["buyer", "seller", ""]),
            rng.choice(["", str(rng.randrange(150, 950) * 1000)]), rng.choice(TIMELINES), color,
            f"2026-{1 + day % 9:02d}-{1 + day % 27:02d}T{day % 24:02d}:{day % 60:02d}:00Z",
        ])

    used: set[str] = set()
    for i in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i}@{rng.choice(DOMAINS)}".lower().replace("'", "")
        digits = rng.choice(AREAS) + f"{rng.randrange(200, 999)}{rng.randrange(0, 9999):04d}"
        while digits in used:
            digits = rng.choice(AREAS) + f"{rng.randrange(200, 999)}{rng.randrange(0, 9999):04d}"
        used.add(digits)
        name = f"{first} {last}"
        kind = rng.random()
        if kind < 0.55:        # one clean record
            add(name, email, _phone_variants(digits, rng))
        elif kind < 0.80:      # the same person 2-3 times, formatted differently
            for _ in range(rng.randint(2, 3)):
                add(rng.choice([name, name.upper(), f"{last}, {first}", first]),
                    rng.choice([_email_variant(email, rng), ""]), _phone_variants(digits, rng))
        elif kind < 0.88:      # household: two people, one shared phone
            partner = f"{rng.choice(FIRST)} {last}"
            add(name, email, _phone_variants(digits, rng))
            add(partner, f"{partner.split()[0].lower()}.{i}@{rng.choice(DOMAINS)}",
                _phone_variants(digits, rng))
        elif kind < 0.93:      # only a phone, or only an email
            add(name, "", _phone_variants(digits, rng)) if rng.random() < 0.5 else \
                add(name, email, "")
        elif kind < 0.97:      # a bad email
            add(name, rng.choice(["n/a", f"{first.lower()}@", f"{first.lower()}@gmail"]),
                _phone_variants(digits, rng))
        else:                  # name only
            add(name, "", "")
    for j in range(12):        # placeholder phones on unrelated people
        first, last = rng.choice(FIRST), rng.choice(LAST)
        add(f"{first} {last}", f"{first}.{last}.p{j}@{rng.choice(DOMAINS)}".lower()
            .replace("'", ""), rng.choice(["000-000-0000", "(123) 456-7890"]))
    add("", "", "")                                   # nothing to contact
    add("Grace Hopper", "grace.hopper@navy.mil", "(202) 555-0190", stage="Appointment Set")
    add("Alan Turing", "alan@bletchley.uk", "+44 20 7946 0958", stage="Appointment Set")
    for k in range(3):
        add(f"Ada Lovelace {k}", f"ada{k}@analytical.engine", "", color="green")
    rng.shuffle(rows)
    for n, row in enumerate(rows, start=1):
        row[0] = f"L{n:04d}"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "core" /
                                             "data" / "sample_leads.csv"))
    args = parser.parse_args(argv)
    rows = make(args.seed, args.people)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    print(f"wrote {len(rows)} records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
