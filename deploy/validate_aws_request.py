#!/usr/bin/env python3
"""Checks the ECS and ELB resources of a CloudFormation stack against the AWS
API models that ship with botocore (the library under the AWS CLI), plus the
limits that AWS documents but the models do not hold.

Usage: validate_aws_request.py RESOURCES.json
       validate_aws_request.py --rules

RESOURCES.json holds a stack's resources with every parameter and intrinsic
function already resolved, as deploy/'s Go checks write them:
{"LogicalId": {"Type": "AWS::ECS::TaskDefinition", "Properties": {...}}, ...}.
Each resource becomes the API request CloudFormation makes for it
(AWS::ECS::TaskDefinition is ecs.RegisterTaskDefinition; its properties are
the request's members with the first letter in upper case), and that request
is validated. --rules lists the rules, one ID a line.

Prints one line per problem, naming the resource, the field and the rule, and
exits 1 if there was any; exits 0 silently otherwise. Needs botocore
(Debian: python3-botocore).
"""

import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator

RULES = {
    "aws.cfn-property": "every property is a member of the API request CloudFormation makes",
    "aws.model": "the request passes botocore's ParamValidator: members, types, required, lengths, ranges",
    "aws.enum": "enum members hold one of the model's values",
    "aws.pattern": "string members match the model's pattern",
    "aws.health-check-range": "container health-check times and retries are within ECS's documented ranges",
    "aws.fargate-stop-timeout": "stopTimeout is within Fargate's 1-120 s",
    "aws.fargate-capabilities": "Fargate adds no capability but SYS_PTRACE",
    "aws.fargate-network-mode": "Fargate tasks use awsvpc",
    "aws.fargate-size": "cpu and memory are a size Fargate offers",
    "aws.attribute-key": "load balancer and target group attribute keys are ones the API documents",
}


def lower_first(name):
    return name[:1].lower() + name[1:]


def same(name):
    return name


# What CloudFormation sends for each resource type: the service, the
# operation, how property names become member names, members CloudFormation
# fills in itself (a generated name), and properties it sends with another
# operation (attributes) as (property, operation, member naming the target).
RESOURCE_REQUESTS = {
    "AWS::ECS::TaskDefinition": ("ecs", "RegisterTaskDefinition", lower_first, {"family": "generated-family"}, []),
    "AWS::ECS::Service": ("ecs", "CreateService", lower_first, {"serviceName": "generated-name"}, []),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "elbv2", "CreateLoadBalancer", same, {"Name": "generated-name"},
        [("LoadBalancerAttributes", "ModifyLoadBalancerAttributes", "LoadBalancerArn")]),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "elbv2", "CreateTargetGroup", same, {"Name": "generated-name"},
        [("TargetGroupAttributes", "ModifyTargetGroupAttributes", "TargetGroupArn")]),
    "AWS::ElasticLoadBalancingV2::Listener": ("elbv2", "CreateListener", same, {}, []),
}


def to_request(value, shape, rename, name, problems):
    """A CloudFormation property value as the API member of shape."""
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            member = rename(key)
            if member not in shape.members:
                problems.append(("aws.cfn-property", f"{name}.{key}".lstrip("."), f"no member {member} in the API request"))
                continue
            out[member] = to_request(item, shape.members[member], rename, f"{name}.{member}".lstrip("."), problems)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_request(item, shape.member, rename, f"{name}[{i}]", problems) for i, item in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_request(item, shape.value, rename, f"{name}.{key}", problems) for key, item in value.items()}
    return value


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
            problems.append(("aws.enum", name, f"{value!r} is not one of {', '.join(shape.enum)}"))
        pattern = shape.metadata.get("pattern")
        try:
            pattern = pattern and re.compile(pattern)
        except re.error:
            # Unicode classes such as \p{L} (tag keys), which Python's re
            # lacks: left to the server.
            pattern = None
        if pattern and not pattern.search(value):
            problems.append(("aws.pattern", name, f"{value!r} does not match the pattern {pattern.pattern}"))

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


def ecs_task_definition_checks(td, operation):
    problems = []
    fargate = "FARGATE" in td.get("requiresCompatibilities", [])
    for i, c in enumerate(td.get("containerDefinitions", [])):
        where = f"containerDefinitions[{i}]"
        for key, value in (c.get("healthCheck") or {}).items():
            if key in HEALTH_CHECK_RANGES and isinstance(value, int):
                lo, hi = HEALTH_CHECK_RANGES[key]
                if not lo <= value <= hi:
                    problems.append(("aws.health-check-range", f"{where}.healthCheck.{key}", f"{value} is outside ECS's range {lo}-{hi}"))
        if fargate:
            stop = c.get("stopTimeout")
            if isinstance(stop, int) and not 0 < stop <= FARGATE_MAX_STOP_TIMEOUT:
                problems.append(("aws.fargate-stop-timeout", f"{where}.stopTimeout", f"{stop} is outside Fargate's range 1-{FARGATE_MAX_STOP_TIMEOUT}"))
            added = ((c.get("linuxParameters") or {}).get("capabilities") or {}).get("add") or []
            for cap in added:
                if cap != "SYS_PTRACE":
                    problems.append(("aws.fargate-capabilities", f"{where}.linuxParameters.capabilities.add", f"Fargate can only add SYS_PTRACE, not {cap}"))
    if fargate:
        if td.get("networkMode") != "awsvpc":
            problems.append(("aws.fargate-network-mode", "networkMode", f"Fargate requires awsvpc, not {td.get('networkMode')!r}"))
        cpu, memory = td.get("cpu"), td.get("memory")
        try:
            cpu, memory = int(cpu), int(memory)
        except (TypeError, ValueError):
            problems.append(("aws.fargate-size", "cpu, memory", f"Fargate needs both as CPU units and MiB, got cpu={cpu!r} memory={memory!r}"))
            return problems
        choices = fargate_memory_choices(cpu)
        if choices is None:
            problems.append(("aws.fargate-size", "cpu", f"{cpu} is not a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384)"))
        elif memory not in choices:
            problems.append(("aws.fargate-size", "memory", f"{memory} MiB is not offered with cpu {cpu} on Fargate ({choices[0]}-{choices[-1]})"))
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
            problems.append(("aws.attribute-key", f"{member}[{i}].Key", f"{key!r} is not an attribute the {operation.name} documentation names"))
    return problems


EXTRA_CHECKS = {
    ("ecs", "RegisterTaskDefinition"): ecs_task_definition_checks,
    ("elbv2", "ModifyTargetGroupAttributes"): attribute_key_checks,
    ("elbv2", "ModifyLoadBalancerAttributes"): attribute_key_checks,
}


def check(service, operation_name, request):
    """Problems of one API request, each (rule, field, message)."""
    op = botocore.session.get_session().get_service_model(service).operation_model(operation_name)
    report = ParamValidator().validate(request, op.input_shape)
    problems = [("aws.model", "", line.strip()) for line in report.generate_report().splitlines()] if report.has_errors() else []
    problems += model_checks(request, op.input_shape)
    extra = EXTRA_CHECKS.get((service, operation_name))
    if extra:
        problems += extra(request, op)
    return problems


def requests(resource_id, resource):
    """The API requests CloudFormation makes for one resource, each
    (service, operation, request), and the problems of the translation."""
    spec = RESOURCE_REQUESTS.get(resource.get("Type"))
    if spec is None:
        return [], []
    service, operation_name, rename, generated, moved = spec
    model = botocore.session.get_session().get_service_model(service)
    properties = dict(resource.get("Properties") or {})
    out, problems = [], []
    for prop, other, target in moved:
        if prop in properties:
            out.append((service, other, {target: "${" + resource_id + "}", "Attributes": properties.pop(prop)}))
    request = to_request(properties, model.operation_model(operation_name).input_shape, rename, "", problems)
    for member, value in generated.items():
        request.setdefault(member, value)
    out.insert(0, (service, operation_name, request))
    return out, [(rule, field, msg, operation_name) for rule, field, msg in problems]


def main(argv):
    if argv[1:] == ["--rules"]:
        print("\n".join(RULES))
        return 0
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        resources = json.load(f)
    failed = False
    for resource_id in sorted(resources):
        reqs, problems = requests(resource_id, resources[resource_id])
        for service, operation_name, request in reqs:
            problems += [(rule, field, msg, operation_name) for rule, field, msg in check(service, operation_name, request)]
        for rule, field, msg, operation_name in problems:
            at = f"Resources.{resource_id} ({operation_name})" + (f" {field}" if field else "")
            print(f"{at}: {msg} [{rule}]")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
