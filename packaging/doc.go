// Package packaging holds what installs acstore on a machine: the systemd
// units (systemd/), the example configs (etc/acstore/), the .deb recipe
// (nfpm.yaml) and its maintainer scripts. It has no code; its tests check
// the units with systemd-analyze and install the .deb into a scratch root.
package packaging
