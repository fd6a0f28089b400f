# Stressgrid on AWS: one coordinator (website and API on 8000, reachable only from
# management_cidr; generators on 9696, reachable only from the generators) with
# permission to put CloudWatch metrics, and `capacity` generators in an
# autoscaling group whose user data points them at the coordinator.

data "aws_vpc" "stressgrid" {
  id      = var.vpc_id
  default = var.vpc_id == null ? true : null
}

data "aws_subnets" "stressgrid" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.stressgrid.id]
  }
}

# The newest image of each role (packer/build.sh names them stressgrid-<role>-<time>).
data "aws_ami" "stressgrid" {
  for_each    = toset(["coordinator", "generator"])
  most_recent = true
  owners      = [var.ami_owner]
  filter {
    name   = "name"
    values = ["stressgrid-${each.key}-*"]
  }
}

# Whoever runs `terraform apply` manages Stressgrid, unless management_cidr says otherwise.
data "http" "my_address" {
  count = var.management_cidr == null ? 1 : 0
  url   = "https://checkip.amazonaws.com"
}

locals {
  management_cidr = var.management_cidr != null ? var.management_cidr : "${chomp(data.http.my_address[0].response_body)}/32"
  subnet_ids      = sort(data.aws_subnets.stressgrid.ids)
  security_groups = tomap({ coordinator = aws_security_group.coordinator.id, generator = aws_security_group.generator.id })
}

# The secret the website, the API and every generator present (STRESSGRID_TOKEN).
resource "random_password" "token" {
  length  = 32
  special = false
}

# The groups hold no inline rules: every rule is a resource of its own below
# (mixing the two makes Terraform fight itself).
resource "aws_security_group" "generator" {
  name        = "stressgrid-generator"
  description = "Stressgrid generators"
  vpc_id      = data.aws_vpc.stressgrid.id
}

resource "aws_security_group" "coordinator" {
  name        = "stressgrid-coordinator"
  description = "Stressgrid coordinator"
  vpc_id      = data.aws_vpc.stressgrid.id
}

resource "aws_vpc_security_group_ingress_rule" "coordinator_website" {
  security_group_id = aws_security_group.coordinator.id
  description       = "Website and API from the management address"
  ip_protocol       = "tcp"
  from_port         = 8000
  to_port           = 8000
  cidr_ipv4         = local.management_cidr
}

resource "aws_vpc_security_group_ingress_rule" "coordinator_generators" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "Generators"
  ip_protocol                  = "tcp"
  from_port                    = 9696
  to_port                      = 9696
  referenced_security_group_id = aws_security_group.generator.id
}

# SSH only with a key pair, only from the management address.
resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each          = { for role, id in local.security_groups : role => id if var.key_name != null }
  security_group_id = each.value
  description       = "SSH from the management address"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = local.management_cidr
}

# Out to anywhere: the targets, the coordinator, CloudWatch, package mirrors.
resource "aws_vpc_security_group_egress_rule" "all" {
  for_each          = local.security_groups
  security_group_id = each.value
  description       = "Everything out"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# The coordinator's role: it may put metrics into CloudWatch, nothing else.
resource "aws_iam_role" "coordinator" {
  name = "stressgrid-coordinator-${var.region}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "coordinator_cloudwatch" {
  name = "put-metric-data"
  role = aws_iam_role.coordinator.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "cloudwatch:PutMetricData"
      Resource = "*"
      # Only into Stressgrid's own namespace.
      Condition = { StringEquals = { "cloudwatch:namespace" = "Stressgrid" } }
    }]
  })
}

resource "aws_iam_instance_profile" "coordinator" {
  name = "stressgrid-coordinator-${var.region}"
  role = aws_iam_role.coordinator.name
}

resource "aws_instance" "coordinator" {
  ami                    = data.aws_ami.stressgrid["coordinator"].id
  instance_type          = var.coordinator_instance_type
  key_name               = var.key_name
  subnet_id              = local.subnet_ids[0]
  vpc_security_group_ids = [aws_security_group.coordinator.id]
  iam_instance_profile   = aws_iam_instance_profile.coordinator.name
  # The website must be reachable from outside the VPC.
  associate_public_ip_address = true
  user_data = templatefile("${path.module}/coordinator-user-data.sh.tftpl", {
    cw_region                   = var.region
    prometheus_remote_write_url = var.prometheus_remote_write_url
    token                       = random_password.token.result
  })
  user_data_replace_on_change = true

  metadata_options {
    # IMDSv2 only: what the coordinator (and the AWS SDK) speak.
    http_tokens = "required"
  }

  tags = {
    Name = "stressgrid-coordinator"
  }
}

resource "aws_launch_template" "generator" {
  name_prefix   = "stressgrid-generator-"
  image_id      = data.aws_ami.stressgrid["generator"].id
  instance_type = var.generator_instance_type
  key_name      = var.key_name
  # The private address, not the private DNS name: a VPC without DNS hostnames
  # gives instances none, and generators would get an empty COORDINATOR_URL host.
  user_data = base64encode(templatefile("${path.module}/generator-user-data.sh.tftpl", {
    coordinator_url = "ws://${aws_instance.coordinator.private_ip}:9696"
    token           = random_password.token.result
  }))

  network_interfaces {
    # Targets are usually outside the VPC; a public address reaches them without a NAT gateway.
    associate_public_ip_address = true
    security_groups             = [aws_security_group.generator.id]
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags = {
      Name = "stressgrid-generator"
    }
  }
}

resource "aws_autoscaling_group" "generators" {
  name                = "stressgrid-generators"
  min_size            = var.capacity
  max_size            = var.capacity
  desired_capacity    = var.capacity
  vpc_zone_identifier = local.subnet_ids

  launch_template {
    id      = aws_launch_template.generator.id
    version = aws_launch_template.generator.latest_version
  }

  # A new launch template (new AMI, new coordinator) replaces the generators.
  instance_refresh {
    strategy = "Rolling"
  }
}
