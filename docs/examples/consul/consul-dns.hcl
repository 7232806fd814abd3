# SPDX-License-Identifier: LGPL-2.1-or-later
# consul-dns.hcl: the Consul agent DNS settings that dnsdisc relies on (merge into the agent's configuration).

ports {
  # The default; dnsdisc.conf's "servers" points here.
  dns = 8600
}

dns_config {
  # Consul trims UDP answers that do not fit: to udp_answer_limit (default 3)
  # records for a query without EDNS, to the EDNS buffer otherwise (dnsdiscd
  # offers 1232 bytes). Only with enable_truncate does it set the TC bit; then
  # dnsdiscd asks again over TCP and gets every instance. Without it, a large
  # service silently loses instances, a different subset at every refresh.
  enable_truncate = true

  # Answer with instances whose checks pass only, not "warning" ones too.
  only_passing = true

  # The default TTL is 0. dnsdiscd clamps it to its min-ttl anyway; a TTL here
  # also lets other resolvers in front of Consul cache the answers.
  service_ttl {
    "*" = "2s"
  }

  # TTL of negative answers (NXDOMAIN for a service without instances).
  soa {
    min_ttl = 2
  }
}
