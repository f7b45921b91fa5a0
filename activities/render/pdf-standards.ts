/**
 * Declares a pdfkit document as PDF/UA-1 and PDF/A-2u at once: the XMP metadata packet
 * (both identifications, the PDF/A extension schema PDF/A-2 asks for the pdfuaid namespace,
 * the document info mirrored, every value escaped, the length counted in UTF-8 bytes) and
 * an sRGB output intent (the ICC profile pdfkit ships for its own PDF/A mode).
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

/** The XMP packet for the document's info dictionary, declaring PDF/A-2u and PDF/UA-1. */
export function xmpPacket(info: DocInternals['info'], language: string): string {
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
    // PDF/A-2 accepts only namespaces it predefines or that the file describes: pdfuaid is not predefined.
    `<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name>
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>Part of ISO 14289 the file conforms to</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>`,
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
 xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
${props.join('\n')}
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`;
}

/** Makes `doc` write the PDF/A-2u + PDF/UA-1 metadata and output intent when it ends. */
export function declarePdfStandards(pdf: PDFKit.PDFDocument, language: string): void {
  const doc = pdf as unknown as DocInternals;
  doc.endMetadata = () => {
    const xml = Buffer.from(xmpPacket(doc.info, language), 'utf8');
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
  };
}
