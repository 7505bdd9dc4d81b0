/**
 * Where mail goes and who takes it there. {@link dev.posta.delivery.Router} resolves a recipient
 * through aliases, the recipient delimiter and catch-alls to local mailboxes or remote addresses;
 * {@link dev.posta.delivery.DeliveryTargets} gives each its route; a {@link
 * dev.posta.delivery.DeliveryTarget} delivers: {@link dev.posta.delivery.LocalDelivery} into the
 * mailbox store, {@link dev.posta.delivery.RemoteDelivery} over SMTP to the MX hosts or a smart
 * host. Used by the queue; uses the store, dns and the SMTP client.
 */
package dev.posta.delivery;
