module github.com/dnsdisc/dnsdisc/bindings/go

go 1.18

require google.golang.org/grpc v1.33.3
