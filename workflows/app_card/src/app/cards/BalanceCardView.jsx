// The freee balance of the deal or company on screen, from the hubspot-freee backend (GET /cards/balance,
// served from its ledger; hubspot.fetch signs the request with HubSpot's v3 signature). A deal with an invoice
// shows its number, status, amounts and due date; a deal with several (one per billing period, or its charges on
// consolidated invoices) shows its totals over all of them and lists each with its period; a deal that cannot be
// invoiced shows each reason (ja / en, in the user's language); what validation warned about is shown beside; a
// company shows its rollup, its invoices (a consolidated invoice once) and its deals that cannot be invoiced.
import React, { useEffect, useState } from 'react';
import {
  Alert,
  DescriptionList,
  DescriptionListItem,
  Divider,
  EmptyState,
  Flex,
  Link,
  LoadingSpinner,
  StatusTag,
  Text,
} from '@hubspot/ui-extensions';
import { API_BASE } from './config.js';

const OBJECT_TYPES = { '0-3': 'deal', '0-2': 'company' };

export const LABELS = {
  ja: {
    loading: '読み込み中…',
    error: 'freeeの残高を読み込めませんでした。時間をおいて再読み込みしてください。',
    errorTitle: '読み込みエラー',
    unsupported: 'このカードは取引と会社でのみ使えます。',
    status: '入金状況',
    invoiced: '請求額',
    paid: '入金額',
    outstanding: '未収額',
    dueDate: '支払期日',
    daysOverdue: '延滞日数',
    overdueTotal: '延滞額',
    overdueCount: '延滞件数',
    oldestOverdue: '最長延滞日数',
    lastPayment: '最終入金日',
    risk: '支払リスク',
    invoices: '請求書',
    consolidated: '合算',
    warnings: '確認してください',
    notInvoiced: '請求書を作成できない取引',
    deal: (id) => `取引 ${id}`,
    days: (n) => `${n}日`,
    count: (n) => `${n}件`,
    statuses: { unpaid: '未入金', partially_paid: '一部入金', paid: '入金済', overdue: '延滞', cancelled: '取消' },
    risks: { none: 'なし', watch: '注意', overdue: '延滞あり' },
  },
  en: {
    loading: 'Loading…',
    error: 'Could not load the freee balance. Reload the record in a moment.',
    errorTitle: 'Loading failed',
    unsupported: 'This card works on deals and companies only.',
    status: 'Payment status',
    invoiced: 'Invoiced',
    paid: 'Paid',
    outstanding: 'Outstanding',
    dueDate: 'Due date',
    daysOverdue: 'Days overdue',
    overdueTotal: 'Overdue',
    overdueCount: 'Overdue invoices',
    oldestOverdue: 'Oldest overdue',
    lastPayment: 'Last payment',
    risk: 'Payment risk',
    invoices: 'Invoices',
    consolidated: 'Consolidated',
    warnings: 'Please check',
    notInvoiced: 'Deals that cannot be invoiced',
    deal: (id) => `Deal ${id}`,
    days: (n) => `${n} days`,
    count: (n) => `${n}`,
    statuses: { unpaid: 'Unpaid', partially_paid: 'Partially paid', paid: 'Paid', overdue: 'Overdue', cancelled: 'Cancelled' },
    risks: { none: 'None', watch: 'Watch', overdue: 'Overdue' },
  },
};

const TAG_VARIANTS = { unpaid: 'warning', partially_paid: 'warning', paid: 'success', overdue: 'danger', cancelled: 'default' };
const RISK_VARIANTS = { none: 'success', watch: 'warning', overdue: 'danger' };

export function languageOf(context) {
  const locale = String(context?.user?.locale || '').toLowerCase();
  return locale.startsWith('ja') ? 'ja' : 'en';
}

export function yen(amount, language) {
  const formatted = new Intl.NumberFormat('ja-JP').format(Number(amount) || 0);
  return language === 'ja' ? `${formatted}円` : `¥${formatted}`;
}

export function balanceUrl(context) {
  const objectType = OBJECT_TYPES[String(context?.crm?.objectTypeId)];
  if (!objectType) return null;
  const query = new URLSearchParams({
    objectType,
    objectId: String(context.crm.objectId),
    portalId: String(context.portal.id),
  });
  return `${API_BASE}/cards/balance?${query}`;
}

function Status({ status, t }) {
  return <StatusTag variant={TAG_VARIANTS[status] || 'default'}>{t.statuses[status] || status}</StatusTag>;
}

function Reasons({ reasons, language, testId }) {
  return (reasons || []).map((reason, index) => (
    <Text key={`${reason.code}-${index}`} testId={`${testId}-${index}`}>
      {reason[language]}
    </Text>
  ));
}

function Warnings({ warnings, t, language }) {
  if (!warnings || warnings.length === 0) return null;
  return (
    <Alert title={t.warnings} variant="warning">
      <Reasons reasons={warnings} language={language} testId="warning" />
    </Alert>
  );
}

function NotInvoiced({ data, language }) {
  return (
    <Alert title={data.message ? data.message[language] : ''} variant={data.state === 'invalid' ? 'danger' : 'warning'}>
      <Reasons reasons={data.reasons} language={language} testId="reason" />
    </Alert>
  );
}

function InvoiceRows({ invoices, t, language }) {
  return invoices.map((invoice) => (
    <Flex key={invoice.unit || invoice.dealId} direction="row" gap="sm" align="center">
      {invoice.label ? <Text>{invoice.label}</Text> : null}
      <Link href={invoice.url}>{invoice.invoiceNumber}</Link>
      {invoice.consolidated ? <Text>{t.consolidated}</Text> : null}
      <Status status={invoice.status} t={t} />
      <Text>{yen(invoice.amountInvoiced, language)}</Text>
      <Text>{yen(invoice.amountPaid, language)}</Text>
      <Text>{yen(invoice.amountOutstanding, language)}</Text>
      <Text>{invoice.dueDate || '—'}</Text>
    </Flex>
  ));
}

function DealBalance({ data, t, language }) {
  const invoice = data.invoice;
  const invoices = data.invoices || [];
  const totals = data.summary || invoice; // the deal over all its invoices (one invoice: that invoice)
  return (
    <Flex direction="column" gap="sm">
      <Warnings warnings={data.warnings} t={t} language={language} />
      {invoices.length > 1 ? null : <Link href={invoice.url}>{invoice.invoiceNumber}</Link>}
      <DescriptionList direction="row">
        <DescriptionListItem label={t.status}>
          <Status status={totals.status} t={t} />
        </DescriptionListItem>
        <DescriptionListItem label={t.outstanding}>
          <Text testId="outstanding">{yen(totals.amountOutstanding, language)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.invoiced}>
          <Text>{yen(totals.amountInvoiced, language)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.paid}>
          <Text>{yen(totals.amountPaid, language)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.dueDate}>
          <Text>{totals.dueDate || '—'}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.daysOverdue}>
          <Text testId="days-overdue">{t.days(totals.daysOverdue)}</Text>
        </DescriptionListItem>
      </DescriptionList>
      {invoices.length > 1 ? (
        <Flex direction="column" gap="xs">
          <Divider />
          <Text format={{ fontWeight: 'bold' }}>{t.invoices}</Text>
          <InvoiceRows invoices={invoices} t={t} language={language} />
        </Flex>
      ) : null}
    </Flex>
  );
}

function CompanyBalance({ summary, invoices, notInvoiced, t, language }) {
  return (
    <Flex direction="column" gap="sm">
      <DescriptionList direction="row">
        <DescriptionListItem label={t.outstanding}>
          <Text testId="outstanding">{yen(summary.outstandingTotal, language)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.overdueTotal}>
          <Text testId="overdue-total">{yen(summary.overdueTotal, language)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.overdueCount}>
          <Text testId="overdue-count">{t.count(summary.overdueInvoiceCount)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.oldestOverdue}>
          <Text>{t.days(summary.oldestOverdueDays)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.lastPayment}>
          <Text>{summary.lastPaymentDate || '—'}</Text>
        </DescriptionListItem>
        <DescriptionListItem label={t.risk}>
          <StatusTag variant={RISK_VARIANTS[summary.risk] || 'default'}>{t.risks[summary.risk] || summary.risk}</StatusTag>
        </DescriptionListItem>
      </DescriptionList>
      <Divider />
      <Text format={{ fontWeight: 'bold' }}>{t.invoices}</Text>
      <InvoiceRows invoices={invoices} t={t} language={language} />
      {notInvoiced && notInvoiced.length > 0 ? (
        <Flex direction="column" gap="xs">
          <Divider />
          <Text format={{ fontWeight: 'bold' }}>{t.notInvoiced}</Text>
          {notInvoiced.map((deal) => (
            <Flex key={deal.dealId} direction="column" gap="xs">
              <Text format={{ fontWeight: 'demibold' }}>{t.deal(deal.dealId)}</Text>
              <Reasons reasons={deal.reasons} language={language} testId="company-reason" />
            </Flex>
          ))}
        </Flex>
      ) : null}
    </Flex>
  );
}

export function BalanceCardView({ context, fetcher }) {
  const language = languageOf(context);
  const t = LABELS[language];
  const url = balanceUrl(context);
  const [state, setState] = useState({ loading: Boolean(url), data: null, failed: false });

  useEffect(() => {
    if (!url) return undefined;
    let live = true;
    (async () => {
      try {
        const response = await fetcher(url, { method: 'GET' });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        if (live) setState({ loading: false, data, failed: false });
      } catch (problem) {
        if (live) setState({ loading: false, data: null, failed: true });
      }
    })();
    return () => {
      live = false;
    };
  }, [url, fetcher]);

  if (!url) return <Text>{t.unsupported}</Text>;
  if (state.loading) return <LoadingSpinner label={t.loading} />;
  if (state.failed || !state.data) {
    return (
      <Alert title={t.errorTitle} variant="error">
        {t.error}
      </Alert>
    );
  }
  const data = state.data;
  if (data.objectType === 'deal' && !data.hasInvoices && data.reasons && data.reasons.length > 0) {
    return (
      <Flex direction="column" gap="sm">
        <NotInvoiced data={data} language={language} />
        <Warnings warnings={data.warnings} t={t} language={language} />
      </Flex>
    );
  }
  if (!data.hasInvoices && !(data.notInvoiced && data.notInvoiced.length > 0)) {
    return (
      <EmptyState title={data.message ? data.message[language] : ''} layout="vertical">
        <Text>{data.message ? data.message[language === 'ja' ? 'en' : 'ja'] : ''}</Text>
      </EmptyState>
    );
  }
  if (data.objectType === 'deal') {
    return <DealBalance data={data} t={t} language={language} />;
  }
  return (
    <CompanyBalance
      summary={data.summary}
      invoices={data.invoices}
      notInvoiced={data.notInvoiced}
      t={t}
      language={language}
    />
  );
}
