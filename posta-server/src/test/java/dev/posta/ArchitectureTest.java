package dev.posta;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The direction of dependencies (docs in the README's architecture map), enforced: packages
 * follow the mail flow one way, top to bottom, and a layer may use any layer below it but none
 * above or beside it.
 *
 * <pre>
 * cli, web                             the faces: nothing uses them (cli starts web)
 * dev.posta (PostaServer)              assembles the parts from the configuration
 * smtp | imap | pop3 | control         listeners: none uses another
 * net                                  what every listener shares: limits, idle sessions, deadlines, AUTH throttle
 * greylist                             greylisting's triplets, asked by the SMTP sessions at RCPT
 * screen                               postscreen's tests before the SMTP greeting: DNS lists, early talkers
 * capture                              capture mode's index of captured mail, fed by the assembly, read by the faces
 * queue                                spool, scheduling, attempts, bounces
 * delivery                             routing; local and remote delivery targets
 * store                                the mailbox store
 * mailauth                             sender authentication: SPF, DKIM, DMARC
 * auth, tls, dns, config, client,     leaves: accounts, certificates, resolver, settings, SMTP client,
 * local, metrics                       local submission's wire form, socket and drop folder; the meters
 * mail, storage                        the mail model; durable-file helpers
 * </pre>
 */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importProductionClasses() {
    classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.posta");
  }

  @Test
  void noPackageCycles() {
    slices().matching("dev.posta.(*)..").should().beFreeOfCycles().check(classes);
  }

  @Test
  void dependenciesFollowTheMailFlowDownward() {
    layeredArchitecture()
        .consideringOnlyDependenciesInLayers()
        .layer("Cli").definedBy("dev.posta.cli..")
        .layer("Web").definedBy("dev.posta.web..")
        .layer("Assembly").definedBy("dev.posta")
        .layer("Smtp").definedBy("dev.posta.smtp..")
        .layer("Imap").definedBy("dev.posta.imap..")
        .layer("Pop3").definedBy("dev.posta.pop3..")
        .layer("Control").definedBy("dev.posta.control..")
        .layer("Net").definedBy("dev.posta.net..")
        .layer("Greylist").definedBy("dev.posta.greylist..")
        .layer("Screen").definedBy("dev.posta.screen..")
        .layer("Capture").definedBy("dev.posta.capture..")
        .layer("Queue").definedBy("dev.posta.queue..")
        .layer("Delivery").definedBy("dev.posta.delivery..")
        .layer("Store").definedBy("dev.posta.store..")
        .layer("MailAuth").definedBy("dev.posta.mailauth..")
        .layer("Milter").definedBy("dev.posta.milter..")
        .layer("Leaves").definedBy("dev.posta.auth..", "dev.posta.database..", "dev.posta.local..", "dev.posta.tls..", "dev.posta.dns..", "dev.posta.config..", "dev.posta.client..",
            "dev.posta.metrics..")
        .layer("Model").definedBy("dev.posta.mail..", "dev.posta.storage..")
        .whereLayer("Cli").mayNotBeAccessedByAnyLayer()
        .whereLayer("Web").mayOnlyBeAccessedByLayers("Cli")
        .whereLayer("Assembly").mayOnlyBeAccessedByLayers("Cli", "Web")
        .whereLayer("Smtp").mayOnlyBeAccessedByLayers("Assembly", "Web")
        .whereLayer("Imap").mayOnlyBeAccessedByLayers("Assembly")
        .whereLayer("Pop3").mayOnlyBeAccessedByLayers("Assembly")
        .whereLayer("Control").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly") // web: the operators' API acts through QueueRequest
        .whereLayer("Net").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp", "Imap", "Pop3", "Control")
        .whereLayer("Greylist").mayOnlyBeAccessedByLayers("Assembly", "Smtp")
        .whereLayer("Screen").mayOnlyBeAccessedByLayers("Assembly", "Smtp")
        .whereLayer("Capture").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly") // web: capture mode's API reads the index
        .whereLayer("Queue").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp", "Control")
        .whereLayer("Delivery").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp", "Control", "Queue")
        .whereLayer("Store").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp", "Imap", "Pop3", "Control", "Queue", "Delivery")
        .whereLayer("MailAuth").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp")
        .whereLayer("Milter").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Smtp")
        .whereLayer("Leaves").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Capture", "Smtp", "Imap", "Pop3", "Control", "Net", "Greylist", "Screen", "Queue", "Delivery", "Store", "MailAuth", "Milter", "Leaves")
        .whereLayer("Model").mayOnlyBeAccessedByLayers("Cli", "Web", "Assembly", "Capture", "Smtp", "Imap", "Pop3", "Control", "Net", "Greylist", "Screen", "Queue", "Delivery", "Store", "MailAuth", "Milter", "Leaves", "Model")
        .check(classes);
  }

  /**
   * The protocols read and change mail through the store's interfaces only (MailboxStore,
   * Folder), so that a clustered store on PostgreSQL can stand in for the Maildirs without a
   * change to them.
   */
  @Test
  void protocolsKnowTheMailStoreOnlyByItsInterfaces() {
    com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses()
        .that().resideInAnyPackage("dev.posta.imap..", "dev.posta.pop3..", "dev.posta.smtp..", "dev.posta.delivery..", "dev.posta.web..")
        .should().dependOnClassesThat().haveNameMatching("dev\\.posta\\.store\\.(Maildir|MaildirFolder|MaildirStore|MailboxIndex|MessageCache|KeywordTable)(\\$.*)?")
        .check(classes);
  }

  /**
   * The message view's model is a pure function of a message's bytes: no HTTP server, no store,
   * no accounts, so the pages and the API can share it and its safety rules are tested alone.
   */
  @Test
  void theMessageViewModelKnowsOnlyMimeAndHtml() {
    com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes()
        .that().resideInAPackage("dev.posta.web.message..")
        .should().onlyDependOnClassesThat().resideInAnyPackage("java..", "dev.posta.web.message..", "org.jsoup..", "org.apache.james.mime4j..")
        .check(classes);
  }
}
