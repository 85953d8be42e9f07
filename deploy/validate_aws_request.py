#!/usr/bin/env python3
"""Checks AWS request files (the JSON given to `aws ... --cli-input-json`)
against the AWS API models that ship with botocore, the library under the AWS
CLI, plus the limits that AWS documents but the models do not hold.

Usage: validate_aws_request.py SERVICE.OPERATION FILE...
  e.g. validate_aws_request.py ecs.RegisterTaskDefinition deploy/ecs/task-definition-arm64.json

Prints one line per problem, each naming the file and the field, and exits 1
if there was any; exits 0 silently otherwise. Needs botocore (Debian:
python3-botocore).
"""

import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator


def walk(value, shape, name, visit):
    """Calls visit(value, shape, name) for every value in a request that the
    model describes. Unknown keys are skipped: ParamValidator reports them."""
    visit(value, shape, name)
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                walk(member, shape.members[key], f"{name}.{key}".lstrip("."), visit)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            walk(item, shape.member, f"{name}[{i}]", visit)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            walk(item, shape.value, f"{name}.{key}", visit)


def model_checks(request, shape):
    """What botocore's ParamValidator leaves to the server although the model
    holds it: enums and string patterns."""
    problems = []

    def visit(value, shape, name):
        if shape.type_name != "string" or not isinstance(value, str):
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"{name}: {value!r} is not one of {', '.join(shape.enum)}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(f"{name}: {value!r} does not match the pattern {pattern}")

    walk(request, shape, "", visit)
    return problems


# ECS's documented limits (API reference: HealthCheck, ContainerDefinition
# stopTimeout, RegisterTaskDefinition cpu/memory); the model only says
# "integer". The health-check ranges are copied from the model's own
# documentation text for HealthCheck.
HEALTH_CHECK_RANGES = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
FARGATE_MAX_STOP_TIMEOUT = 120
GIB = 1024


def fargate_memory_choices(cpu):
    """Task memory (MiB) that Fargate accepts for a task cpu (units)."""
    return {
        256: [512, 1024, 2048],
        512: list(range(1 * GIB, 4 * GIB + 1, GIB)),
        1024: list(range(2 * GIB, 8 * GIB + 1, GIB)),
        2048: list(range(4 * GIB, 16 * GIB + 1, GIB)),
        4096: list(range(8 * GIB, 30 * GIB + 1, GIB)),
        8192: list(range(16 * GIB, 60 * GIB + 1, 4 * GIB)),
        16384: list(range(32 * GIB, 120 * GIB + 1, 8 * GIB)),
    }.get(cpu)


def ecs_task_definition_checks(td):
    problems = []
    fargate = "FARGATE" in td.get("requiresCompatibilities", [])
    for i, c in enumerate(td.get("containerDefinitions", [])):
        where = f"containerDefinitions[{i}]"
        for key, value in (c.get("healthCheck") or {}).items():
            if key in HEALTH_CHECK_RANGES and isinstance(value, int):
                lo, hi = HEALTH_CHECK_RANGES[key]
                if not lo <= value <= hi:
                    problems.append(f"{where}.healthCheck.{key}: {value} is outside ECS's range {lo}-{hi}")
        if fargate:
            stop = c.get("stopTimeout")
            if isinstance(stop, int) and not 0 < stop <= FARGATE_MAX_STOP_TIMEOUT:
                problems.append(f"{where}.stopTimeout: {stop} is outside Fargate's range 1-{FARGATE_MAX_STOP_TIMEOUT}")
            added = ((c.get("linuxParameters") or {}).get("capabilities") or {}).get("add") or []
            for cap in added:
                if cap != "SYS_PTRACE":
                    problems.append(f"{where}.linuxParameters.capabilities.add: Fargate can only add SYS_PTRACE, not {cap}")
    if fargate:
        if td.get("networkMode") != "awsvpc":
            problems.append(f"networkMode: Fargate requires awsvpc, not {td.get('networkMode')!r}")
        cpu, memory = td.get("cpu"), td.get("memory")
        try:
            cpu, memory = int(cpu), int(memory)
        except (TypeError, ValueError):
            problems.append(f"cpu, memory: Fargate needs both as CPU units and MiB, got cpu={cpu!r} memory={memory!r}")
            return problems
        choices = fargate_memory_choices(cpu)
        if choices is None:
            problems.append(f"cpu: {cpu} is not a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384)")
        elif memory not in choices:
            problems.append(f"memory: {memory} MiB is not offered with cpu {cpu} on Fargate ({choices[0]}-{choices[-1]})")
    return problems


def attribute_key_checks(request, operation):
    """Load balancer and target group attribute keys are free strings in the
    model; the keys AWS accepts are listed in the model's documentation."""
    problems = []
    member = "Attributes"
    shape = operation.input_shape.members[member].member.members["Key"]
    documented = set(re.findall(r"<code>([a-z0-9_.]+)</code>", shape.documentation))
    for i, attr in enumerate(request.get(member) or []):
        key = attr.get("Key") if isinstance(attr, dict) else None
        if key is not None and key not in documented:
            problems.append(f"{member}[{i}].Key: {key!r} is not an attribute the {operation.name} documentation names")
    return problems


EXTRA_CHECKS = {
    ("ecs", "RegisterTaskDefinition"): lambda req, op: ecs_task_definition_checks(req),
    ("elbv2", "ModifyTargetGroupAttributes"): attribute_key_checks,
    ("elbv2", "ModifyLoadBalancerAttributes"): attribute_key_checks,
}


def check(service, operation, request):
    model = botocore.session.get_session().get_service_model(service)
    op = model.operation_model(operation)
    report = ParamValidator().validate(request, op.input_shape)
    problems = report.generate_report().splitlines() if report.has_errors() else []
    problems += model_checks(request, op.input_shape)
    extra = EXTRA_CHECKS.get((service, operation))
    if extra:
        problems += extra(request, op)
    return problems


def main(argv):
    if len(argv) < 3 or "." not in argv[1] or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    service, operation = argv[1].split(".", 1)
    failed = False
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            try:
                request = json.load(f)
            except json.JSONDecodeError as e:
                print(f"{path}: not JSON: {e}")
                failed = True
                continue
        for problem in check(service, operation, request):
            print(f"{path}: {problem.strip()}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
