"""Every default livebar uses, in one place.

Times are float seconds unless the name says otherwise. Other modules import these names; none of
them hard-codes a number of its own.
"""

from __future__ import annotations

# Environment variables (every one is listed in the README).
ENV_API_KEY = "ACTIVITYSMITH_API_KEY"
ENV_BASE_URL = "ACTIVITYSMITH_BASE_URL"
ENV_TIMEOUT = "LIVEBAR_TIMEOUT"
ENV_DISABLE = "LIVEBAR_DISABLE"

# The colours a Live Activity can have (the API's LiveActivityColor).
COLORS = ("lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray")

# Transport.
DEFAULT_BASE_URL = "https://activitysmith.com/api"
DEFAULT_TIMEOUT = 5.0
"""Connect and read timeout of one request; never infinite."""
DEFAULT_RETRY_AFTER_CAP = 60.0
"""Longest a server's ``Retry-After`` may make us wait."""

# Retries of explicit client calls (see ``RetryPolicy``).
DEFAULT_RETRY_MAX_ATTEMPTS = 4
DEFAULT_RETRY_INITIAL = 0.5
DEFAULT_RETRY_MULTIPLIER = 2.0
DEFAULT_RETRY_MAX_DELAY = 8.0
DEFAULT_RETRY_MAX_TOTAL = 20.0
DEFAULT_RETRY_JITTER = 0.5

# Engine.
DEFAULT_FLUSH_TIMEOUT = 5.0
"""How long closing an activity (or the process exiting) waits for the final request."""
DEFAULT_AUTO_DISMISS_MINUTES = 3
DEFAULT_FAILURE_AUTO_DISMISS_MINUTES = 30
ACCOUNT_REQUESTS_PER_MINUTE = 60
"""ActivitySmith's account-wide rate limit."""
ACCOUNT_WINDOW = 60.0
"""The window of that limit, in seconds."""
DEFAULT_REQUESTS_PER_MINUTE = 40
"""livebar's share of the account limit, leaving headroom for other tools on the same account."""
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 4
IOS_BUDGET_UPDATES = 12
"""Updates an activity may spend before the average rate starts to matter to iOS."""
IOS_BUDGET_INTERVAL = 120.0
"""Average spacing of updates iOS tolerates beyond the first ``IOS_BUDGET_UPDATES``."""
IOS_ACTIVITY_HOURS = 8.0
"""iOS ends a Live Activity about this long after it started."""
DEFAULT_ROTATE_AFTER = 7.5 * 3600
"""When a manual-lifecycle activity is ended and started afresh, well before iOS's limit."""
DEFAULT_RENEW_RETRY = 600.0
"""A stream whose PUT at ``DEFAULT_ROTATE_AFTER`` was not renewed by the server asks again this
much later (still well before iOS's limit)."""
RANK_MODES = ("main", "all")
"""``ranks=``: mirror only a distributed job's main process, or every process."""
LIFECYCLES = ("stream", "manual")
"""``stream`` (the default): ``PUT``/``DELETE /live-activity/stream/{key}``, idempotent and
renewed by the server; ``manual``: ``start``/``update``/``end``, renewed by livebar."""

# Pacing (see ``livebar._engine.pacing``).
DEFAULT_RESERVED_REQUESTS = 6
"""Requests per window that updates may not use, kept for starts, ends and pushes."""
DEFAULT_END_RESERVE = 2
"""Of those, requests only ends may use, so a flood of pushes never holds an end back."""
DEFAULT_DETAIL_WEIGHT = 0.2
"""What a changed subtitle adds to an update's score (1 sends): it helps, never decides alone."""
DEFAULT_IOS_MARGIN = 1.05
"""Safety factor on the iOS spacing, so clock skew never trips the server's warning."""
DEFAULT_MIN_UPDATE_GAP = 2.0
"""Shortest time between two updates of one activity."""
DEFAULT_MIN_VISIBLE_CHANGE = 0.01
"""Smallest change of a bar worth an update (the phone shows whole percents)."""
DEFAULT_BACKOFF_INITIAL = 1.0
"""First wait after a failed engine request (network trouble, 5xx, the account's 429)."""
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_ACTIVITY_LIMIT_BACKOFF_INITIAL = 5.0
"""First wait of a start refused because the account runs its maximum of activities."""
DEFAULT_ACTIVITY_LIMIT_BACKOFF_MAX = 60.0
DEFAULT_BACKOFF_JITTER = 0.5
"""Backoffs are shortened by a random fraction of up to this much."""
DEFAULT_REAP_INTERVAL = 10.0
"""How often a process looks for activities of gone processes on its accounts (to end them)."""
DEFAULT_HEARTBEAT_INTERVAL = 30.0
"""How often a process with open activities says it is alive in the account's ledger."""
DEFAULT_HANG_AFTER = 300.0
"""How long a live process's heartbeat may be silent before another livebar process shows its
card as not responding: ten heartbeats (30 s each), so a busy machine, a slow ledger or a
debugger's breakpoint of a minute never marks a healthy job. Heartbeats and looks for hung
cards come at least ten and thirty times per threshold (``Budgets.heartbeat_every``)."""
ENV_HANG_AFTER = "LIVEBAR_HANG_AFTER"
HUNG_COLOR = "orange"
"""The colour of a card whose process does not respond: it stands out, and it is not Lost's red."""
DEFAULT_GRACE_DIVISOR = 24
"""A scheduled job's default grace is this fraction of its period (an hour for a daily job)."""
DEFAULT_SCHEDULE_CHECK = 60.0
"""How often a process with work looks for scheduled jobs that missed their start."""
DEFAULT_SAMPLE_INTERVAL = 0.25
"""The shortest time between two looks of the engine at a job whose update may be due: it looks
again when a decision could change (``freshness.next_look``), never sooner than this."""
DEFAULT_LONGEST_NAP = 3.0
"""The longest the engine sleeps while an open job could be worth an update (the budgets allow
one) but its pace does not say when: a stalled job that starts again is seen this soon."""
DEFAULT_WATCH_PRECISION = 0.1
"""While a job watched for stalls moves, the engine looks at it at least every this much of its
``stall_after``: when it last moved is known that closely (``_job/watchdog.decide``)."""
DEFAULT_STOP_GRACE = 0.5
"""How long an early-stopped loop waits for an uncaught exception to mark it failed."""
DEFAULT_SIGTERM_GRACE = 30.0
"""A job that declared no work and ends this soon after a SIGTERM was cancelled by it (Kubernetes
gives a pod 30 s between SIGTERM and SIGKILL); one that ends later survived it."""
ENV_FLUSH_TIMEOUT = "LIVEBAR_FLUSH_TIMEOUT"
ENV_COURIER = "LIVEBAR_COURIER"
"""``0`` stops the exit from sending a courier for the ends it could not deliver in time."""
ENV_LEDGER = "LIVEBAR_LEDGER"
"""Where processes share an account's budget: ``off``, a directory, or a ``redis://`` URL."""
ENV_HOST_ID = "LIVEBAR_HOST_ID"
"""Overrides the detected host id (see ``livebar._ledger.owner``), e.g. to test two hosts on one."""
ENV_REQUESTS_PER_MINUTE = "LIVEBAR_REQUESTS_PER_MINUTE"
ENV_RANKS = "LIVEBAR_RANKS"
"""Which processes of a distributed job mirror: ``main`` (default) or ``all``."""

# Fleets: one card for a job run by many members (see ``livebar._job.fleet``).
ENV_FLEET_RUN = "LIVEBAR_FLEET_RUN"
"""A fleet's run id, shared by every member of one run (e.g. a Kubernetes Job's uid)."""
ENV_JOB_COMPLETION_INDEX = "JOB_COMPLETION_INDEX"
"""Set by Kubernetes in each pod of an Indexed Job: a member's name when none is given."""
FLEET_BARS = ("auto", "steps", "items")
"""``bar=`` of a fleet: a segment per member up to ``DEFAULT_FLEET_MAX_SEGMENTS`` (auto), always
(steps), or a progress bar over the members' summed items (items)."""
DEFAULT_FLEET_MAX_SEGMENTS = 24
"""Most segments a fleet's card draws, one per member; a larger fleet gets a progress bar."""
DEFAULT_FLEET_LEASE = 10.0
"""How long the lease of a fleet's sender lasts unless renewed: a new member takes over this
long (plus one report) after the sender dies."""
DEFAULT_FLEET_REPORT_EVERY = 2.5
"""How often a member writes its state when nothing changed (its heartbeat, and its bid for the
lease); a fourth of the lease, so a live sender renews it several times per period."""
DEFAULT_FLEET_MIN_WRITE = 1.0
"""Shortest time between two writes of a member's changing state."""
DEFAULT_FLEET_READ_EVERY = 1.0
"""How often the sender reads the fleet's record to render the card."""
DEFAULT_FLEET_LOST_AFTER = 30.0
"""A running member whose heartbeat is this old is lost (killed, or cut off); on its own host a
dead process is known at once."""
DEFAULT_FLEET_LATE_GRACE = 3.0
"""How long the last member running keeps a card whose other members have not all started (and
whose deadline has not passed) after its own job ended, before it ends the card naming them:
members started together on a busy machine join seconds apart. Within the exit's 5-s flush
deadline, so the member's process exits as promised."""
DEFAULT_FLEET_JOIN_WINDOW = 3600.0
"""Without a deadline, how long after its first member a run takes new members (a member that
comes later starts the fleet's next run: a new card)."""
ENV_PYTEST = "LIVEBAR_PYTEST"
"""``1`` turns the pytest plugin on, as ``pytest --livebar`` does."""
