"""/code-review: short code snippets and review comments."""

SNIPPETS = [
    ("python", "n+1", '''def load_orders(user_ids):
    orders = []
    for uid in user_ids:
        rows = db.execute("SELECT * FROM orders WHERE user_id = %s", (uid,))
        orders.extend(rows)
    return orders'''),
    ("python", "mutable-default", '''def add_tag(item, tags=[]):
    tags.append(item)
    return tags


def build(items):
    return [add_tag(i) for i in items]'''),
    ("python", "exception", '''def read_config(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return {}'''),
    ("python", "sql-injection", '''def find_user(name):
    query = "SELECT id, email FROM users WHERE name = '" + name + "'"
    return db.execute(query).fetchall()'''),
    ("javascript", "async", '''async function fetchAll(urls) {
  const results = [];
  for (const url of urls) {
    const res = await fetch(url);
    results.push(await res.json());
  }
  return results;
}'''),
    ("javascript", "equality", '''function isAdmin(user) {
  if (user.role == "admin" || user.level == 1) {
    return true;
  }
  return false;
}'''),
    ("go", "error-ignored", '''func saveReport(r Report) {
    data, _ := json.Marshal(r)
    f, _ := os.Create(r.Path)
    f.Write(data)
}'''),
    ("go", "goroutine-leak", '''func worker(jobs chan Job) {
    for {
        j := <-jobs
        go process(j)
    }
}'''),
    ("sql", "missing-index", '''SELECT c.name, SUM(o.total)
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.created_at > NOW() - INTERVAL '30 days'
GROUP BY c.name
ORDER BY 2 DESC;'''),
    ("typescript", "any", '''export function parse(input: any): any {
  const data = JSON.parse(input);
  return data.items.map((x: any) => x.value * 2);
}'''),
]

ASKS = ["Can you review this {lang} code before I merge it?",
        "Please review this {lang} function for bugs and performance problems.",
        "Is there anything wrong with this {lang} snippet? It passes the tests but feels off.",
        "Code review please. This is part of a PR that touches the checkout service.",
        "My teammate wrote this {lang} code. What would you change and why?"]

ISSUES = {
    "n+1": ["This runs one query per user id, which is an N+1 pattern; fetch all orders with a single `WHERE user_id = ANY(%s)` query.",
            "`SELECT *` pulls every column; select only the fields the caller needs."],
    "mutable-default": ["The default `tags=[]` is created once and shared between calls, so tags leak across items.",
                        "Use `tags=None` and create a new list inside the function."],
    "exception": ["Catching `Exception` and returning an empty dict hides missing files and malformed JSON.",
                  "Catch `FileNotFoundError` and `json.JSONDecodeError` separately and log the path."],
    "sql-injection": ["Building the query with string concatenation allows SQL injection through `name`.",
                      "Use a parameterised query and never interpolate user input into SQL."],
    "async": ["The requests run one after another; use `Promise.all` to fetch them concurrently.",
              "There is no check of `res.ok`, so HTTP errors are parsed as if they were data."],
    "equality": ["Loose equality `==` coerces types; use `===`.",
                 "Granting admin when `level == 1` looks like a privilege-escalation bug; confirm the intended rule."],
    "error-ignored": ["Every error is discarded with `_`, so a failed write looks like success.",
                      "The file is never closed; use `defer f.Close()` and return the error to the caller."],
    "goroutine-leak": ["The loop never exits, even when the channel is closed; use `for j := range jobs`.",
                       "Starting one goroutine per job without a limit can exhaust memory under load."],
    "missing-index": ["Add an index on `orders(customer_id, created_at)` so the join and filter avoid a full scan.",
                      "Grouping by `c.name` merges different customers with the same name; group by `c.id` too."],
    "any": ["Using `any` everywhere disables type checking; define an interface for the input.",
            "`JSON.parse` can throw and `data.items` may be undefined; validate before mapping."],
}

GENERAL = ["Consider adding a unit test that covers the failure path.",
           "Naming is clear and the function is short, which makes it easy to review.",
           "Add a docstring or comment explaining why this approach was chosen.",
           "The logic is fine for small inputs, but think about behaviour with ten thousand items.",
           "I would split this change into two commits: the fix and the refactor."]

SYSTEM = ("You are a senior software engineer doing code review. Point out bugs, security issues "
          "and performance problems first, then style. Quote the relevant line, explain the risk, "
          "and suggest a concrete fix. Be concise.")


def prompt(r):
    lang, issue, code = r.choice(SNIPPETS)
    ask = r.choice(ASKS).replace("{lang}", {"python": "Python", "javascript": "JavaScript", "go": "Go",
                                             "sql": "SQL", "typescript": "TypeScript"}[lang])
    return issue, f"{ask}\n\n```{lang}\n{code}\n```"


def follow_up(r):
    return r.choice(["Thanks. Can you show the fixed version?", "Would a test catch this? Can you write one?",
                     "Is the second point really a problem in practice?", "What about thread safety here?"])


def review(r, issue, detailed=False):
    lines = ["**Review summary:** " + r.choice(["two issues worth fixing before merge.",
                                                 "mostly fine, with one real bug.",
                                                 "needs changes; see the first point."]), ""]
    for i, text in enumerate(ISSUES[issue], 1):
        lines.append(f"{i}. {text}")
    extras = r.sample(GENERAL, 2 if detailed else 1)
    lines.append("")
    lines += ["- " + e for e in extras]
    if detailed:
        return with_fix(r, "\n".join(lines), issue)
    if r.random() < 0.3:
        lines += ["", "Suggested direction: fix the first issue in this PR and open a ticket for the rest, "
                      "so the change stays small and easy to roll back."]
    return "\n".join(lines)


FIXES = {
    "n+1": ("python", '''def load_orders(user_ids):
    if not user_ids:
        return []
    return db.execute(
        "SELECT id, user_id, total, created_at FROM orders WHERE user_id = ANY(%s)",
        (list(user_ids),),
    ).fetchall()'''),
    "mutable-default": ("python", '''def add_tag(item, tags=None):
    tags = [] if tags is None else list(tags)
    tags.append(item)
    return tags'''),
    "exception": ("python", '''def read_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        log.warning("config %s not found, using defaults", path)
        return {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON in {path}: {exc}") from exc'''),
    "sql-injection": ("python", '''def find_user(name):
    return db.execute(
        "SELECT id, email FROM users WHERE name = %s", (name,)
    ).fetchall()'''),
    "async": ("javascript", '''async function fetchAll(urls) {
  const responses = await Promise.all(urls.map((url) => fetch(url)));
  for (const res of responses) {
    if (!res.ok) throw new Error(`request failed: ${res.status} ${res.url}`);
  }
  return Promise.all(responses.map((res) => res.json()));
}'''),
    "equality": ("javascript", '''function isAdmin(user) {
  return user.role === "admin";
}'''),
    "error-ignored": ("go", '''func saveReport(r Report) error {
    data, err := json.Marshal(r)
    if err != nil {
        return fmt.Errorf("marshal report: %w", err)
    }
    return os.WriteFile(r.Path, data, 0o644)
}'''),
    "goroutine-leak": ("go", '''func worker(ctx context.Context, jobs <-chan Job, limit int) {
    sem := make(chan struct{}, limit)
    for j := range jobs {
        sem <- struct{}{}
        go func(j Job) {
            defer func() { <-sem }()
            process(ctx, j)
        }(j)
    }
}'''),
    "missing-index": ("sql", '''CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_created_idx
    ON orders (customer_id, created_at);

SELECT c.id, c.name, SUM(o.total) AS total_30d
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.created_at > NOW() - INTERVAL '30 days'
GROUP BY c.id, c.name
ORDER BY total_30d DESC;'''),
    "any": ("typescript", '''interface Item { value: number }
interface Payload { items?: Item[] }

export function parse(input: string): number[] {
  const data = JSON.parse(input) as Payload;
  return (data.items ?? []).map((x) => x.value * 2);
}'''),
}


def with_fix(r, text, issue):
    lang, code = FIXES[issue]
    return text + f"\n\nSuggested fix:\n\n```{lang}\n{code}\n```"
