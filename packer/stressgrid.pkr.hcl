# Machine images for Stressgrid: a coordinator or a generator (var.role) on the
# current Ubuntu LTS, as an AMI (copied to var.ami_regions) or a GCP image (in the
# family stressgrid-<role>, which the Terraform in terraform/gcp looks up).
#
#   packer/build.sh coordinator amazon-ebs      (or googlecompute, with -var gcp_project_id=...)
#
# The image holds Node.js, the release tarball made by `npm pack` installed
# globally, a `stressgrid` user, the systemd unit of its role (enabled) with its
# env file /etc/default/stressgrid-<role>.env, and the kernel settings of
# deploy/sysctl/60-stressgrid.conf.

variable "role" {
  type        = string
  description = "coordinator or generator"
  validation {
    condition     = contains(["coordinator", "generator"], var.role)
    error_message = "The role must be coordinator or generator."
  }
}

variable "release" {
  type        = string
  description = "The stressgrid-<version>.tgz made by `npm pack` (packer/build.sh makes it)."
}

variable "node_major" {
  type        = string
  default     = "22"
  description = "Node.js major version, from NodeSource's apt repository (Ubuntu's own is too old)."
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "ami_regions" {
  type        = list(string)
  default     = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]
  description = "Regions the AMI is copied to."
}

variable "aws_instance_type" {
  type    = string
  default = "c5.large"
}

variable "gcp_project_id" {
  type    = string
  default = ""
}

variable "gcp_zone" {
  type    = string
  default = "us-central1-a"
}

variable "gcp_machine_type" {
  type    = string
  default = "n1-standard-2"
}

locals {
  # One stamp for both clouds' image names, e.g. 20260101120000.
  stamp = regex_replace(timestamp(), "[- TZ:]", "")
  name  = "stressgrid-${var.role}-${local.stamp}"
}

source "amazon-ebs" "ubuntu" {
  region        = var.aws_region
  ami_regions   = var.ami_regions
  instance_type = var.aws_instance_type
  ami_name      = local.name
  ssh_username  = "ubuntu"
  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    # Canonical.
    owners      = ["099720109477"]
    most_recent = true
  }
  tags = {
    Name    = local.name
    Role    = "stressgrid-${var.role}"
    Release = basename(var.release)
  }
}

source "googlecompute" "ubuntu" {
  project_id          = var.gcp_project_id
  zone                = var.gcp_zone
  machine_type        = var.gcp_machine_type
  source_image_family = "ubuntu-2404-lts-amd64"
  image_name          = local.name
  image_family        = "stressgrid-${var.role}"
  ssh_username        = "ubuntu"
  image_labels = {
    role = "stressgrid-${var.role}"
  }
}

build {
  sources = ["source.amazon-ebs.ubuntu", "source.googlecompute.ubuntu"]

  provisioner "file" {
    source      = var.release
    destination = "/tmp/stressgrid.tgz"
  }

  # Units, env file examples and kernel settings: the folder (no trailing slash) becomes /tmp/deploy.
  provisioner "file" {
    source      = "${path.root}/../deploy"
    destination = "/tmp"
  }

  provisioner "shell" {
    script          = "${path.root}/scripts/provision.sh"
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "STRESSGRID_ROLE=${var.role}",
      "NODE_MAJOR=${var.node_major}",
      "RELEASE=/tmp/stressgrid.tgz",
      "DEPLOY=/tmp/deploy",
    ]
  }
}
