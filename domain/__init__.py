"""The rules of the MPP world: NIK and region codes, working days, the permit lifecycle and SLA
states, service standards, compliance zones, person keys. Plain functions on plain data; this
package imports no stage of the hub (connectors, streams, projections, ops)."""
