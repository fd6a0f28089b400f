variable "project" {
  type        = string
  description = "GCP project where Stressgrid is created."
}

variable "region" {
  type        = string
  description = "GCP region, for example us-central1."
}

variable "zone" {
  type        = string
  description = "GCP zone, for example us-central1-a."
}

variable "capacity" {
  type        = number
  default     = 1
  description = "How many generators to run."
  validation {
    condition     = var.capacity >= 0 && floor(var.capacity) == var.capacity
    error_message = "The capacity must be a whole number of generators, 0 or more."
  }
}

variable "generator_instance_type" {
  type        = string
  default     = "n1-standard-4"
  description = "Machine type of the generators (x86-64: the images are)."
}

variable "coordinator_instance_type" {
  type        = string
  default     = "n1-standard-1"
  description = "Machine type of the coordinator."
}

variable "image_project" {
  type        = string
  default     = null
  description = "Project holding the stressgrid-coordinator and stressgrid-generator image families; default: var.project, where packer/build.sh made them."
}

variable "network" {
  type        = string
  default     = "default"
  description = "VPC network to create Stressgrid in."
}

variable "management_cidr" {
  type        = string
  default     = null
  description = "Addresses allowed to the website and API (port 8000) and SSH; default: this machine's public address (/32), as checkip.amazonaws.com sees it."
}

variable "prometheus_remote_write_url" {
  type        = string
  default     = ""
  description = "Prometheus remote-write URL the coordinator pushes every second of a run to (http://prometheus:9090/api/v1/write; basic auth as https://user:password@host/...); default: none."
}
