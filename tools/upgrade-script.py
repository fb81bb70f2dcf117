#!/usr/bin/env python3
"""Make an extension upgrade script from two generated install scripts.

    tools/upgrade-script.py sql/install/decnet--OLD.sql NEW.sql > decnet--OLD--NEW.sql

./x runs it on every install for the unreleased version (NEW.sql is the
install script cargo pgrx install has just written; docs/operations.md); at a
release its output is read and frozen in sql/upgrade/.

Functions and aggregates are matched by name (decnet overloads none). New ones
are created, changed ones replaced (dropped first when their result type or
arguments changed), removed ones dropped; comments that changed are
re-applied; new functions get a fresh install's privileges (analysts may call
what is not VOLATILE). tests/upgrade.rs proves that an upgraded database has
exactly the catalogue of a fresh install.
"""
import re
import sys


def statements(text):
    """Split SQL into statements, honouring quotes, dollar quotes and comments."""
    out, buf, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            buf.append(text[i:j]); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2) + 2
            buf.append(text[i:j]); i = j
        elif c == "'":
            j = i + 1
            while True:
                j = text.find("'", j)
                if text.startswith("''", j):
                    j += 2
                    continue
                break
            buf.append(text[i:j + 1]); i = j + 1
        elif c == "$" and re.match(r"\$[A-Za-z_]*\$", text[i:]):
            tag = re.match(r"\$[A-Za-z_]*\$", text[i:]).group(0)
            j = text.find(tag, i + len(tag)) + len(tag)
            buf.append(text[i:j]); i = j
        elif c == ";":
            out.append("".join(buf).strip()); buf = []; i += 1
        else:
            buf.append(c); i += 1
    if "".join(buf).strip():
        out.append("".join(buf).strip())
    return out


def strip_comments(stmt):
    """The statement without its leading comments (pgrx's markers and source notes)."""
    s = stmt.strip()
    while True:
        if s.startswith("--"):
            s = s[s.find("\n") + 1:].lstrip() if "\n" in s else ""
        elif s.startswith("/*"):
            s = s[s.find("*/") + 2:].lstrip()
        else:
            return s


def name_of(s):
    return s.replace("@extschema@.", "").replace('"', "").strip()


def key(stmt):
    body = strip_comments(stmt)
    m = re.match(r"CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|AGGREGATE)\s+([^\s(]+)\s*\(", body, re.I)
    if m:
        return (m.group(1).upper(), name_of(m.group(2)))
    m = re.match(r"COMMENT\s+ON\s+(FUNCTION|AGGREGATE)\s+([^\s(]+)\s*\(", body, re.I)
    if m:
        return ("COMMENT " + m.group(1).upper(), name_of(m.group(2)))
    return ("OTHER", " ".join(body.split()))


def normal(stmt):
    return " ".join(re.sub(r"/\*.*?\*/", "", strip_comments(stmt), flags=re.S).split())


def returns(stmt):
    m = re.search(r"\)\s*RETURNS\s+(.*?)\s+(?:LANGUAGE|IMMUTABLE|STABLE|VOLATILE|STRICT|PARALLEL|SECURITY|SET|AS)\b",
                  normal(stmt), re.I | re.S)
    return m.group(1) if m else None


def arguments(stmt):
    """The argument list of a CREATE FUNCTION, whitespace-normalised."""
    m = re.match(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+[^\s(]+\s*\((.*?)\)\s*RETURNS", normal(stmt), re.I | re.S)
    return m.group(1) if m else None


def volatile(stmt):
    """Whether a CREATE FUNCTION declares no IMMUTABLE or STABLE (PostgreSQL's default is VOLATILE)."""
    head = normal(stmt).split(" AS ", 1)[0]
    return not re.search(r"\b(IMMUTABLE|STABLE)\b", head, re.I)


def main(old_path, new_path):
    old = {key(s): s for s in statements(open(old_path).read()) if strip_comments(s)}
    new = [(key(s), s) for s in statements(open(new_path).read()) if strip_comments(s)]
    out = [f"-- decnet upgrade script drafted by tools/upgrade-script.py from {old_path} and {new_path}"]
    new_keys = {k for k, _ in new}
    created = []  # functions without their old privileges: new, or dropped and re-created
    for k, s in new:
        kind, name = k
        body = strip_comments(s)
        if k in old and normal(old[k]) == normal(s):
            continue
        if kind == "OTHER":
            out.append(f"-- new statement (check it is safe to run on an existing install)\n{body};")
        elif kind in ("FUNCTION", "AGGREGATE"):
            if k in old and (returns(old[k]) != returns(s) or arguments(old[k]) != arguments(s)):
                out.append(f"DROP {kind} @extschema@.{name};" if kind == "FUNCTION" else f"DROP AGGREGATE @extschema@.{name}(bytea);")
                out.append(body + ";")
                created.append(k)
            elif k in old:
                out.append(re.sub(r"^CREATE\s+(OR\s+REPLACE\s+)?", "CREATE OR REPLACE ", body, count=1, flags=re.I) + ";")
            else:
                out.append(body + ";")
                created.append(k)
        else:  # comments
            out.append(body + ";")
    for k in old:
        if k not in new_keys and k[0] == "FUNCTION":
            out.append(f"DROP FUNCTION @extschema@.{k[1]};")
    if created:
        # what a fresh install gives every function (migration V13, docs/security.md):
        # no PUBLIC; analysts may call what cannot write (not VOLATILE)
        statements_of = dict(new)
        names = ", ".join(f"@extschema@.{n}" for kind, n in created if kind == "FUNCTION")
        readers = ", ".join(f"@extschema@.{n}" for kind, n in created if kind == "FUNCTION" and not volatile(statements_of[(kind, n)]))
        grant = (f"    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'decnet_analyst') THEN\n"
                 f"        GRANT EXECUTE ON FUNCTION {readers} TO decnet_analyst;\n    END IF;\n") if readers else ""
        out.append("DO $upgrade$\nBEGIN\n" f"    REVOKE EXECUTE ON FUNCTION {names} FROM PUBLIC;\n" + grant + "END\n$upgrade$;")
    print("\n\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
