/**
 * Declares a pdfkit document as PDF/UA-1 and PDF/A-2u at once: the XMP metadata packet
 * (both identifications, the PDF/A extension schema PDF/A-2 asks for the pdfuaid namespace,
 * the document info mirrored, every value escaped, the length counted in UTF-8 bytes) and
 * an sRGB output intent (the ICC profile pdfkit ships for its own PDF/A mode).
 *
 * The print interior (`pdfx`) is besides identified as PDF/X-4: `GTS_PDFXVersion` in the info
 * dictionary and `pdfxid:GTS_PDFXVersion` in the XMP (described by an extension schema, as
 * PDF/A-2 asks for properties it does not predefine), `Trapped` False in both, the document and
 * version ids PDF/X-4 asks of the XMP, and a second output intent of subtype GTS_PDFX. Both
 * intents share one DestOutputProfile stream, which PDF/A-2 requires when there are several.
 * The profile is sRGB: the pages are drawn in DeviceRGB (text colours and JPEG pictures), and an
 * RGB output intent lets DeviceRGB stand under PDF/X-4 and PDF/A-2 alike; the printer's RIP
 * converts from it to its own inks.
 *
 * pdfkit's `subset` option can declare only one of the two standards, and its XMP writer
 * pastes the title in unescaped and sets the stream length in UTF-16 units, so a title
 * with `&` or any non-ASCII letter breaks the packet; this replaces its `endMetadata`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { escapeXml } from './common';

let iccProfile: Buffer | undefined;

/** sRGB IEC 61966-2.1, from pdfkit's own data folder (read once per process). */
function srgbProfile(): Buffer {
  iccProfile ??= fs.readFileSync(path.join(path.dirname(require.resolve('pdfkit')), 'data', 'sRGB_IEC61966_2_1.icc'));
  return iccProfile;
}

/** pdfkit internals used here. */
interface DocInternals {
  info: Record<string, string | Date | undefined>;
  ref(data?: Record<string, unknown>): { data: Record<string, unknown>; compress?: boolean; write(d: Buffer | string): void; end(): void };
  _root: { data: Record<string, unknown> };
  endMetadata(): void;
}

function xmpDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What PDF/X-4 adds to the XMP of the print interior. */
export interface PdfxIds {
  /** A stable id of the document (the book's UUID), as xmpMM:DocumentID. */
  documentId: string;
  /** An id of this rendition, as xmpMM:VersionID. */
  versionId: string;
}

/** The PDF/X version the print interior declares. */
export const PDFX_VERSION = 'PDF/X-4';

const extensionSchema = (name: string, uri: string, prefix: string, props: Array<[string, string, string]>) => `<rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>${name}</pdfaSchema:schema>
<pdfaSchema:namespaceURI>${uri}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>${prefix}</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq>${props
  .map(
    ([prop, type, description]) => `<rdf:li rdf:parseType="Resource">
<pdfaProperty:name>${prop}</pdfaProperty:name>
<pdfaProperty:valueType>${type}</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>${description}</pdfaProperty:description>
</rdf:li>`,
  )
  .join('')}</rdf:Seq></pdfaSchema:property>
</rdf:li>`;

/** The XMP packet for the document's info dictionary, declaring PDF/A-2u and PDF/UA-1 (and PDF/X-4 with `pdfx`). */
export function xmpPacket(info: DocInternals['info'], language: string, pdfx?: PdfxIds): string {
  const text = (v: unknown) => (typeof v === 'string' && v ? escapeXml(v) : undefined);
  const date = (v: unknown) => (v instanceof Date ? xmpDate(v) : undefined);
  const title = text(info.Title);
  const author = text(info.Author);
  const subject = text(info.Subject);
  const keywords = text(info.Keywords);
  const alt = (v: string) => `<rdf:Alt><rdf:li xml:lang="x-default">${v}</rdf:li></rdf:Alt>`;
  const props = [
    '<dc:format>application/pdf</dc:format>',
    title && `<dc:title>${alt(title)}</dc:title>`,
    author && `<dc:creator><rdf:Seq><rdf:li>${author}</rdf:li></rdf:Seq></dc:creator>`,
    subject && `<dc:description>${alt(subject)}</dc:description>`,
    `<dc:language><rdf:Bag><rdf:li>${escapeXml(language)}</rdf:li></rdf:Bag></dc:language>`,
    text(info.Producer) && `<pdf:Producer>${text(info.Producer)}</pdf:Producer>`,
    keywords && `<pdf:Keywords>${keywords}</pdf:Keywords>`,
    text(info.Creator) && `<xmp:CreatorTool>${text(info.Creator)}</xmp:CreatorTool>`,
    date(info.CreationDate) && `<xmp:CreateDate>${date(info.CreationDate)}</xmp:CreateDate>`,
    date(info.ModDate) && `<xmp:ModifyDate>${date(info.ModDate)}</xmp:ModifyDate>`,
    date(info.ModDate) && `<xmp:MetadataDate>${date(info.ModDate)}</xmp:MetadataDate>`,
    '<pdfaid:part>2</pdfaid:part>',
    '<pdfaid:conformance>U</pdfaid:conformance>',
    '<pdfuaid:part>1</pdfuaid:part>',
    pdfx && `<pdfxid:GTS_PDFXVersion>${PDFX_VERSION}</pdfxid:GTS_PDFXVersion>`,
    pdfx && '<pdf:Trapped>False</pdf:Trapped>',
    pdfx && `<xmpMM:DocumentID>uuid:${escapeXml(pdfx.documentId)}</xmpMM:DocumentID>`,
    pdfx && `<xmpMM:VersionID>${escapeXml(pdfx.versionId)}</xmpMM:VersionID>`,
    pdfx && '<xmpMM:RenditionClass>default</xmpMM:RenditionClass>',
    // PDF/A-2 accepts only namespaces it predefines or that the file describes: pdfuaid and pdfxid are not predefined.
    `<pdfaExtension:schemas><rdf:Bag>${extensionSchema('PDF/UA Universal Accessibility Schema', 'http://www.aiim.org/pdfua/ns/id/', 'pdfuaid', [
      ['part', 'Integer', 'Part of ISO 14289 the file conforms to'],
    ])}${
      pdfx
        ? extensionSchema('PDF/X ID Schema', 'http://www.npes.org/pdfx/ns/id/', 'pdfxid', [['GTS_PDFXVersion', 'Text', 'ID of PDF/X standard']]) +
          // pdf:Trapped came into the Adobe PDF schema after the XMP of 2005 that PDF/A-2 predefines.
          extensionSchema('Adobe PDF Schema', 'http://ns.adobe.com/pdf/1.3/', 'pdf', [['Trapped', 'Text', 'Whether the document has been trapped']])
        : ''
    }</rdf:Bag></pdfaExtension:schemas>`,
  ].filter(Boolean);
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about=""
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
 xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
 xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"
${pdfx ? ' xmlns:pdfxid="http://www.npes.org/pdfx/ns/id/"\n xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n' : ''} xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
${props.join('\n')}
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`;
}

/**
 * Makes `doc` write the PDF/A-2u + PDF/UA-1 metadata and output intent when it ends; with
 * `pdfx`, the PDF/X-4 identification and output intent too.
 */
export function declarePdfStandards(pdf: PDFKit.PDFDocument, language: string, pdfx?: PdfxIds): void {
  const doc = pdf as unknown as DocInternals;
  if (pdfx) {
    doc.info.GTS_PDFXVersion = PDFX_VERSION;
    // Trapped must be the name /False; pdfkit writes every info string as a string, so this
    // marker object is caught as its entry is made and given the name instead.
    const trapped = new String('False');
    (doc.info as Record<string, unknown>).Trapped = trapped;
    const ref = doc.ref.bind(doc);
    doc.ref = (data) => {
      const r = ref(data);
      if ((data as unknown) === trapped) r.data = 'False' as unknown as Record<string, unknown>;
      return r;
    };
  }
  doc.endMetadata = () => {
    const xml = Buffer.from(xmpPacket(doc.info, language, pdfx), 'utf8');
    const meta = doc.ref({ Length: xml.length, Type: 'Metadata', Subtype: 'XML' });
    // PDF/A wants the packet readable without a filter.
    meta.compress = false;
    meta.write(xml);
    meta.end();
    doc._root.data.Metadata = meta;

    const icc = srgbProfile();
    const profile = doc.ref({ Length: icc.length, N: 3 });
    profile.write(icc);
    profile.end();
    const intent = doc.ref({
      Type: 'OutputIntent',
      S: 'GTS_PDFA1',
      Info: new String('sRGB IEC61966-2.1'),
      OutputConditionIdentifier: new String('sRGB IEC61966-2.1'),
      DestOutputProfile: profile,
    });
    intent.end();
    doc._root.data.OutputIntents = [intent];
    if (pdfx) {
      const printIntent = doc.ref({
        Type: 'OutputIntent',
        S: 'GTS_PDFX',
        OutputCondition: new String('sRGB IEC61966-2.1'),
        OutputConditionIdentifier: new String('sRGB IEC61966-2.1'),
        RegistryName: new String('http://www.color.org'),
        Info: new String('sRGB IEC61966-2.1: pictures and text are sRGB, to be converted to the press\'s inks'),
        DestOutputProfile: profile,
      });
      printIntent.end();
      doc._root.data.OutputIntents = [printIntent, intent];
    }
  };
}
