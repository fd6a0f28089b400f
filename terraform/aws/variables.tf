variable "region" {
  type        = string
  description = "AWS region where Stressgrid is created, for example us-east-1."
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
  default     = "c5.xlarge"
  description = "Instance type of the generators (x86-64: the images are)."
}

variable "coordinator_instance_type" {
  type        = string
  default     = "t3.micro"
  description = "Instance type of the coordinator."
}

variable "ami_owner" {
  type        = string
  default     = "self"
  description = "Account that owns the stressgrid-coordinator-* and stressgrid-generator-* AMIs (default: this account, where packer/build.sh made them)."
}

variable "key_name" {
  type        = string
  default     = null
  description = "EC2 key pair for SSH to the coordinator and generators (from management_cidr); default: no SSH."
}

variable "vpc_id" {
  type        = string
  default     = null
  description = "VPC to create Stressgrid in; default: the region's default VPC."
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
