// SPDX-License-Identifier: LGPL-2.1-or-later
// go.mod: dnsdisc for Go; tested with grpc-go 1.33.3 (Debian 12), see README.md for later releases.

module github.com/dnsdisc/dnsdisc/bindings/go

go 1.19

require google.golang.org/grpc v1.33.3
