# The builders this template uses, fetched by `packer init packer/` (Packer 1.7 and
# later; since 1.10 the Amazon and Google builders come only as plugins).
# Kept apart from stressgrid.pkr.hcl so that Packers older than 1.7, which do
# not know this block, can still validate the template itself.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
    googlecompute = {
      source  = "github.com/hashicorp/googlecompute"
      version = ">= 1.1.0"
    }
  }
}
