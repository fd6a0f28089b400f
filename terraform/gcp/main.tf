# Stressgrid on GCP: one coordinator (website and API on 8000, reachable only from
# management_cidr; generators on 9696, reachable only from the generators) and
# `capacity` generators in a managed instance group whose startup script points
# them at the coordinator. (CloudWatch is AWS's: on GCP the coordinator writes
# its reports to disk only.)

locals {
  image_project   = var.image_project != null ? var.image_project : var.project
  management_cidr = var.management_cidr != null ? var.management_cidr : "${chomp(data.http.my_address[0].response_body)}/32"
}

# The newest image of each role's family (packer/build.sh makes stressgrid-<role>).
data "google_compute_image" "stressgrid" {
  for_each = toset(["coordinator", "generator"])
  family   = "stressgrid-${each.key}"
  project  = local.image_project
}

# Whoever runs `terraform apply` manages Stressgrid, unless management_cidr says otherwise.
data "http" "my_address" {
  count = var.management_cidr == null ? 1 : 0
  url   = "https://checkip.amazonaws.com"
}

# The secret the website, the API and every generator present (STRESSGRID_TOKEN).
resource "random_password" "token" {
  length  = 32
  special = false
}

resource "google_compute_firewall" "coordinator_management" {
  name          = "coordinator-management"
  network       = var.network
  description   = "Stressgrid website and API, and SSH, from the management address"
  source_ranges = [local.management_cidr]
  target_tags   = ["stressgrid-coordinator"]
  allow {
    protocol = "tcp"
    ports    = ["8000", "22"]
  }
}

resource "google_compute_firewall" "coordinator_generators" {
  name        = "coordinator-generators"
  network     = var.network
  description = "Stressgrid generators to the coordinator"
  source_tags = ["stressgrid-generator"]
  target_tags = ["stressgrid-coordinator"]
  allow {
    protocol = "tcp"
    ports    = ["9696"]
  }
}

resource "google_compute_firewall" "generator_management" {
  name          = "generator-management"
  network       = var.network
  description   = "SSH to the Stressgrid generators from the management address"
  source_ranges = [local.management_cidr]
  target_tags   = ["stressgrid-generator"]
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_compute_instance" "coordinator" {
  name         = "stressgrid-coordinator"
  machine_type = var.coordinator_instance_type
  zone         = var.zone
  tags         = ["stressgrid-coordinator"]

  boot_disk {
    initialize_params {
      image = data.google_compute_image.stressgrid["coordinator"].self_link
    }
  }

  network_interface {
    network = var.network
    # A public address for the website.
    access_config {}
  }

  metadata = {
    startup-script = templatefile("${path.module}/coordinator-startup.sh.tftpl", {
      prometheus_remote_write_url = var.prometheus_remote_write_url
      token                       = random_password.token.result
    })
  }
}

resource "google_compute_instance_template" "generator" {
  name_prefix  = "stressgrid-generator-"
  machine_type = var.generator_instance_type
  tags         = ["stressgrid-generator"]

  disk {
    source_image = data.google_compute_image.stressgrid["generator"].self_link
    boot         = true
    auto_delete  = true
  }

  network_interface {
    network = var.network
    # A public address to reach targets outside the network without Cloud NAT.
    access_config {}
  }

  metadata = {
    startup-script = templatefile("${path.module}/generator-startup.sh.tftpl", {
      coordinator_url = "ws://${google_compute_instance.coordinator.network_interface[0].network_ip}:9696"
      token           = random_password.token.result
    })
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_group_manager" "generators" {
  name               = "stressgrid-generators"
  zone               = var.zone
  base_instance_name = "stressgrid-generator"
  target_size        = var.capacity

  version {
    instance_template = google_compute_instance_template.generator.id
  }
}
