# The Linux test images (guest kernel + initramfs), included by the top-level
# Makefile. Built from Debian packages into a cache outside the checkout; see
# images/README.md.
#
#   make images      installs missing packages (images/deps.sh), builds or
#                    reuses the images (images/build.sh, instant when cached)
#                    and writes their directory to $(IMAGES_DIR_FILE)
#   $(IMAGES_DIR)    that directory (vmlinux, bzImage, initramfs.cpio), for
#                    recipes of targets that depend on `images`

IMAGES_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
IMAGES_DIR_FILE ?= build/images.dir
IMAGES_DIR = $(shell cat $(IMAGES_DIR_FILE) 2>/dev/null)

.PHONY: images
images:
	@$(IMAGES_SRC)/deps.sh
	@mkdir -p $(dir $(IMAGES_DIR_FILE))
	@$(IMAGES_SRC)/build.sh >$(IMAGES_DIR_FILE).tmp
	@mv $(IMAGES_DIR_FILE).tmp $(IMAGES_DIR_FILE)
	@echo "images: $$(cat $(IMAGES_DIR_FILE))"
