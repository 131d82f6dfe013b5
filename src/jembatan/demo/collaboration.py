"""The demo's shared workspace: the three ministries' joint dengue response, with a
guideline in two versions, a discussion, tasks and a milestone."""

from __future__ import annotations

NAME = "ASEAN dengue response"
PURPOSE = (
    "Joint response to the 2026 dengue season: shared vector-control guidance, "
    "coordinated risk communication and a common surveillance review."
)
AGREEMENT_TITLE = "ASEAN dengue response workspace"

GUIDELINE_V1 = """# Regional guideline: Aedes vector control

1. Inspect breeding sites weekly in construction sites, schools and places of worship.
2. Larviciding with temephos where water storage cannot be covered.
3. Report inspection coverage per district every epidemiological week.
"""

GUIDELINE_V2 = (
    GUIDELINE_V1
    + """4. Fogging only in response to clustered cases, within 48 hours of notification.
5. Pantau jentik: community volunteers check households every fortnight.
"""
)

# (member code, comment)
DISCUSSION = [
    ("IDN-KEMENKES", "West Java's outbreak signal is confirmed; we propose a joint review."),
    ("MYS-MOH", "Johor sees a similar rise. We added fogging rules to the guideline (v2)."),
    ("SGP-MOH", "Agreed. Singapore will draft the joint risk communication."),
]

MILESTONE = ("Joint response plan adopted", 21)  # title, due in days from set-up

# (member code, title, days until due, done)
TASKS = [
    ("IDN-KEMENKES", "Share district-level case counts for West Java", 3, True),
    ("MYS-MOH", "Review the vector-control guideline", 7, False),
    ("SGP-MOH", "Draft joint risk communication for travellers", 14, False),
]
