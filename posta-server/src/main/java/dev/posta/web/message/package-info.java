/**
 * The message view's model, below the pages and the API: what a stored message shows in a
 * browser, made safe before any page sees it, and what the API's JSON says of it. {@link dev.posta.web.message.MessageView} reads a message once
 * with mime4j's streaming parser (bounded in bytes, parts and body text, never holding an
 * attachment in memory) into its header summary, the addresses, all header fields, the text
 * part, the HTML part and the attachment list; {@link dev.posta.web.message.HtmlSanitizer} turns the HTML part
 * into markup that cannot run script, submit forms, frame other pages or fetch remote content
 * unless asked; {@link dev.posta.web.message.Attachment} says how one part is downloaded.
 *
 * <p>Pure functions of a message's bytes: no Jetty, no store, no accounts (the architecture test
 * keeps it so), so every rule is tested without a server and the pages and the API can share it.
 */
package dev.posta.web.message;
