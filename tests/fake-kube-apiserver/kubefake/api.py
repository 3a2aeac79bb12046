"""Kubernetes API conventions the fake needs everywhere: Status errors, Go-style bools,
timestamps, and label/field selectors (written from the API documentation, not copied)."""

import datetime
import re

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class ApiError(Exception):
    """An error the API answers with a Status object (or, for 429, plain text)."""

    def __init__(self, code, reason, message, details=None, headers=None, text_body=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.text_body = text_body

    def status(self):
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details:
        # {"_empty": True}: a Status whose details pointer is set but every field is empty
        # (NewGenericServerResponse), which Go serialises as "details":{}.
        s["details"] = {} if details.get("_empty") else details
    s["code"] = code
    return s


def not_found(resource, name):
    return ApiError(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource})


def already_exists(resource, name):
    return ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists',
                    {"name": name, "kind": resource})


def conflict(resource, name, why):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": {why}',
                    {"name": name, "kind": resource})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(kind, name, causes):
    """causes: list of (field, reason, message) as in a 422 Invalid."""
    text = "; ".join(f"{f}: {m}" for f, _, m in causes)
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}',
                    {"name": name, "kind": kind,
                     "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]})


def forbidden(user, verb, resource, name, namespace):
    """The RBAC denial text, e.g. pods "x" is forbidden: User "u" cannot get resource ..."""
    base, _, sub = resource.partition("/")
    subject = f'{base} "{name}"' if name else base
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(403, "Forbidden",
                    f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
                    f'in API group ""{where}',
                    {"name": name, "kind": base} if name else {"kind": base})


def parse_bool(value, name):
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'invalid boolean value for {name}: "{value}"')


def now_rfc3339(offset_seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- label selectors -----------------------------------------------------------------------

def _split_terms(text):
    terms, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t.strip() for t in terms if t.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_EQ_RE = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$")


def parse_label_selector(text):
    """Returns [(key, op, values)] with op in =, !=, in, notin, exists, !exists."""
    reqs = []
    for term in _split_terms(text or ""):
        m = _SET_RE.match(term)
        if m:
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), values))
        elif term.startswith("!"):
            reqs.append((term[1:].strip(), "!exists", []))
        else:
            m = _EQ_RE.match(term)
            if m:
                op = "!=" if m.group(2) == "!=" else "="
                reqs.append((m.group(1), op, [m.group(3)]))
            else:
                reqs.append((term, "exists", []))
    for key, _, values in reqs:
        if not _LABEL_KEY_RE.match(key) or any(not _LABEL_VALUE_RE.match(v) for v in values):
            raise bad_request(f'unable to parse requirement: invalid label selector "{text}"')
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, values in reqs:
        has = key in labels
        if op == "=" and (not has or labels[key] != values[0]):
            return False
        if op == "!=" and has and labels[key] == values[0]:
            return False
        if op == "in" and (not has or labels[key] not in values):
            return False
        if op == "notin" and has and labels[key] in values:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


# ---- field selectors -----------------------------------------------------------------------

FIELDS = {
    "pods": {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
             "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP",
             "status.nominatedNodeName"},
    "persistentvolumeclaims": {"metadata.name", "metadata.namespace"},
    "events": {"metadata.name", "metadata.namespace", "involvedObject.name", "involvedObject.kind",
               "involvedObject.namespace", "involvedObject.uid", "reason", "type"},
}


def parse_field_selector(text, resource):
    reqs = []
    for term in _split_terms(text or ""):
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", term)
        if not m:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{term}\'')
        field = m.group(1).strip()
        if field not in FIELDS.get(resource, set()):
            raise bad_request(f'field label not supported: {field}')
        reqs.append((field, "!=" if m.group(2) == "!=" else "=", m.group(3).strip()))
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def fields_match(reqs, obj):
    for path, op, value in reqs:
        v = field_value(obj, path)
        if (op == "=") != (v == value):
            return False
    return True
